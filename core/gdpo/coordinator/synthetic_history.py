"""A deterministic synthetic household: readings and day-ahead prices to store, for the
backtest's tests, ``benchmarks/optimiser_bench.py`` and the README's savings table.

Seasons: ``winter`` (no PV, a morning and an evening peak of load and price), ``summer``
(PV up to 6 kW at noon, cheap or negative midday prices), ``flat`` (one price all day,
as under g11 with a flat market). Prices vary from day to day by a seeded random factor.
"""

from __future__ import annotations

import datetime as _dt
import math
import random
from typing import Any

from gdpo.prices.model import SOURCE_DAY_AHEAD
from gdpo.prices.timeline import day_quarter_starts
from gdpo.storage.aggregate import local_midnight_utc, zone

SEASONS = ("winter", "summer", "flat")


def load_kw(hour: float, weekday: int) -> float:
    """House load at local ``hour`` (float) on ``weekday`` (0 = Monday), kW."""
    base = 0.35
    morning = 1.2 * math.exp(-((hour - 7.5) / 1.0) ** 2)
    evening = 1.8 * math.exp(-((hour - 19.0) / 2.0) ** 2)
    weekend = 0.3 if weekday >= 5 and 9 <= hour <= 16 else 0.0
    return base + morning + evening + weekend


def pv_kw(hour: float, season: str) -> float:
    """PV power at local ``hour``, kW."""
    if season != "summer" or not 5.0 <= hour <= 20.0:
        return 0.0
    return 6.0 * math.sin(math.pi * (hour - 5.0) / 15.0) ** 2


def market_pln_kwh(hour: float, season: str, factor: float) -> float:
    """The market price at local ``hour``, PLN/kWh."""
    if season == "flat":
        return 0.55
    night = 0.32
    morning = 0.35 * math.exp(-((hour - 8.0) / 1.5) ** 2)
    evening = 0.75 * math.exp(-((hour - 18.5) / 1.8) ** 2)
    midday = -0.45 * math.exp(-((hour - 13.0) / 2.0) ** 2) if season == "summer" else 0.1
    return round((night + morning + evening + midday) * factor, 4)


def build(first: _dt.date, days: int, season: str = "winter", *, tz: str = "Europe/Warsaw",
          every_min: int = 5, seed: int = 1, soc_pct: float = 30.0) -> tuple[list[dict], list[dict]]:
    """(energy_data, price_forecasts) records for ``days`` local days from ``first``."""
    if season not in SEASONS:
        raise ValueError(f"season {season!r}: use one of {', '.join(SEASONS)}")
    rng = random.Random(seed)
    local = zone(tz)
    energy, prices = [], []
    for k in range(days):
        day = first + _dt.timedelta(days=k)
        factor = rng.uniform(0.8, 1.25)
        fetched = local_midnight_utc(day, tz) - _dt.timedelta(hours=10)
        for t in day_quarter_starts(day):
            lt = t.astimezone(local)
            price = market_pln_kwh(lt.hour + lt.minute / 60, season, factor)
            prices.append({"period_start": t, "source": SOURCE_DAY_AHEAD, "period_minutes": 15,
                           "price_pln_kwh": price, "price_kind": "market", "business_date": day,
                           "published_at": fetched, "fetched_at": fetched,
                           "payload": {"synthetic": True}})
        t = local_midnight_utc(day, tz)
        end = local_midnight_utc(day + _dt.timedelta(days=1), tz)
        while t < end:
            lt = t.astimezone(local)
            hour = lt.hour + lt.minute / 60
            load = load_kw(hour, lt.weekday()) * rng.uniform(0.85, 1.15)
            pv = pv_kw(hour, season) * rng.uniform(0.7, 1.0)
            energy.append({"ts": t, "battery_soc_pct": soc_pct, "pv_power_w": round(pv * 1000, 1),
                           "house_consumption_w": round(load * 1000, 1),
                           "grid_power_w": round((load - pv) * 1000, 1), "battery_power_w": 0.0,
                           "payload": {"synthetic": True}})
            t += _dt.timedelta(minutes=every_min)
    return energy, prices


async def store(storage: Any, first: _dt.date, days: int, season: str = "winter", **kw) -> tuple[int, int]:
    """Build and write the records; returns (energy_data, price_forecasts) counts."""
    energy, prices = build(first, days, season, **kw)
    await storage.write("energy_data", energy)
    await storage.write("price_forecasts", prices)
    await storage.flush()
    return len(energy), len(prices)
