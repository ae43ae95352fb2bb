"""PVForecaster: an hourly PV forecast for the next hours from the last days of measured PV.

The profile is the mean PV power of each local hour of the day over the last
``history_days`` days (hourly averages computed by the storage ``aggregate``), scaled by
season (the ratio of a clear-sky seasonal factor on the forecast day to its mean over the
history days). Confidence starts at ``confidence_start`` for the next hour, falls by
``confidence_decay_per_h`` per hour ahead, and is scaled by how many days of history exist.
Stored as ``pv_forecasts`` (``source=profile``, ``period_minutes=60``).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import defaultdict
from typing import Any

from gdpo.storage.aggregate import zone
from gdpo.storage.records import PvForecast

SOURCE = "profile"


def season_factor(day: _dt.date) -> float:
    """A smooth seasonal PV factor for Poland: highest at the June solstice, lowest in December."""
    doy = day.timetuple().tm_yday
    return 1.0 + 0.6 * math.cos(2 * math.pi * (doy - 172) / 365.25)


def build_profile(hourly: list[dict[str, Any]], tz: str) -> tuple[dict[int, float], set[_dt.date]]:
    """Mean power per local hour of day, and the local days seen, from ``1h`` aggregate rows."""
    sums: dict[int, list[float]] = defaultdict(list)
    days: set[_dt.date] = set()
    for row in hourly:
        value = row.get("pv_power_w")
        if value is None:
            continue
        local = row["bucket"].astimezone(zone(tz))
        sums[local.hour].append(float(value))
        days.add(local.date())
    return {h: sum(v) / len(v) for h, v in sums.items()}, days


def forecast(hourly: list[dict[str, Any]], now: _dt.datetime, cfg: dict[str, Any], tz: str) -> list[PvForecast]:
    """The forecast records for the ``horizon_h`` hours after the current hour (pure)."""
    profile, days = build_profile(hourly, tz)
    if not profile:
        return []
    history_mean = sum(season_factor(d) for d in days) / len(days)
    coverage = min(1.0, len(days) / cfg["history_days"])
    first = now.replace(minute=0, second=0, microsecond=0)
    out = []
    for i in range(cfg["horizon_h"]):
        start = first + _dt.timedelta(hours=i)
        local = start.astimezone(zone(tz))
        base = profile.get(local.hour, 0.0)
        power = max(0.0, base * season_factor(local.date()) / history_mean)
        conf = max(0.0, min(1.0, (cfg["confidence_start"] - cfg["confidence_decay_per_h"] * i) * coverage))
        out.append(PvForecast(period_start=start, source=SOURCE, period_minutes=60, power_w=power, confidence=conf,
                              made_at=now, payload={"history_days": len(days), "profile_w": base}))
    return out


class PVForecaster:
    """Makes, stores and serves the PV forecast."""

    def __init__(self, storage, config: dict[str, Any]):
        self.storage = storage
        self.cfg = config["pv_forecast"]
        self.tz = config["coordinator"]["timezone"]
        self.latest: list[PvForecast] = []

    async def refresh(self, now: _dt.datetime) -> list[PvForecast]:
        """Build the forecast from stored PV and store it."""
        start = now - _dt.timedelta(days=self.cfg["history_days"])
        hourly = await self.storage.aggregate("energy_data", start, now, every="1h", fields={"pv_power_w": "avg"})
        records = forecast(hourly, now, self.cfg, self.tz)
        if records:
            await self.storage.write("pv_forecasts", records)
        self.latest = records
        return records

    def power_at(self, t: _dt.datetime) -> float | None:
        """Forecast PV power for the hour holding ``t``, or None."""
        for r in self.latest:
            if r.period_start <= t < r.period_start + _dt.timedelta(minutes=r.period_minutes):
                return r.power_w
        return None
