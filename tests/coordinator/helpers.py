"""Builders shared by the coordinator tests: a day of priced quarters, telemetry, sessions."""

from __future__ import annotations

import datetime as _dt
from zoneinfo import ZoneInfo

from gdpo.coordinator.model import PriceQuarter, Telemetry
from gdpo.storage.records import UTC

WARSAW = ZoneInfo("Europe/Warsaw")
SIM_T0 = _dt.datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # the start of the `sim` fixture's simulator


def local(y, m, d, hh=0, mm=0) -> _dt.datetime:
    """A Europe/Warsaw wall time as an aware UTC datetime."""
    return _dt.datetime(y, m, d, hh, mm, tzinfo=WARSAW).astimezone(UTC)


def quarters(start: _dt.datetime, finals, market=None) -> list[PriceQuarter]:
    """Consecutive quarters from ``start`` with the given final prices (market = 0.6 x final)."""
    out = []
    for i, p in enumerate(finals):
        m = market[i] if market is not None else round(p * 0.6, 6)
        out.append(PriceQuarter(start + _dt.timedelta(minutes=15 * i), m, p))
    return out


def flat_day(start: _dt.datetime, price: float = 0.9, hours: int = 24, cheap: dict | None = None) -> list[PriceQuarter]:
    """``hours`` of quarters at ``price``; ``cheap`` maps quarter index -> price."""
    finals = [price] * (hours * 4)
    for i, p in (cheap or {}).items():
        finals[i] = p
    return quarters(start, finals)


def tele(now: _dt.datetime, soc=60.0, pv=0.0, load=500.0, temp=25.0, age_s=10.0, **kw) -> Telemetry:
    """A fresh reading ``age_s`` before ``now``."""
    return Telemetry(ts=now - _dt.timedelta(seconds=age_s), battery_soc_pct=soc, pv_power_w=pv,
                     house_consumption_w=load, battery_temp_c=temp, **kw)


def session(status, start, end=None, target=95.0, origin="decision", **payload) -> dict:
    """A charging_sessions mapping."""
    return {"session_id": f"charge:{start.isoformat()}", "status": status, "start_ts": start, "end_ts": end,
            "target_soc_pct": target, "origin": origin, "payload": {"started_ts": start.isoformat(), **payload}}
