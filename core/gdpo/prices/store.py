"""Market prices in storage: a complete day as ``price_forecasts`` records and back.

Each quarter-hour is one record: ``period_start`` (UTC), ``source`` (``csdac-pln`` or
``rce-pln``), ``period_minutes`` 15, ``price_pln_kwh``, ``price_kind`` ``market``,
``business_date`` (local delivery day), ``published_at``, ``fetched_at``; the payload keeps
the PSE price in PLN/MWh and, for an hourly day, ``source_period_minutes`` 60.
"""

from __future__ import annotations

import datetime as _dt
import logging

from gdpo.prices.model import MarketDay, MarketQuarter
from gdpo.prices.timeline import day_bounds_utc, day_quarter_starts
from gdpo.storage.facade import Storage
from gdpo.storage.records import PriceForecast

log = logging.getLogger(__name__)

KIND = "price_forecasts"
MARKET = "market"


def day_records(day: MarketDay, fetched_at: _dt.datetime) -> list[PriceForecast]:
    """The ``price_forecasts`` records of a complete market day (never of a sample)."""
    if day.is_sample:
        raise ValueError("sample prices are never stored")
    out = []
    for q in day.quarters:
        extra = {"source_period_minutes": q.source_period_minutes} if q.source_period_minutes != 15 else {}
        out.append(PriceForecast(period_start=q.period_start, source=day.source, period_minutes=15,
                                 price_pln_kwh=q.price_pln_kwh, price_kind=MARKET,
                                 business_date=day.business_date, published_at=day.published_at,
                                 fetched_at=fetched_at, price_pln_mwh=round(q.price_pln_kwh * 1000, 6), **extra))
    return out


async def save_day(storage: Storage, day: MarketDay, fetched_at: _dt.datetime) -> int:
    """Write a complete day in one batch; returns how many records were new."""
    result = await storage.write(KIND, day_records(day, fetched_at))
    await storage.flush()
    return result.inserted


async def load_day(storage: Storage, business_date: _dt.date, source: str) -> MarketDay | None:
    """The stored market day of ``source``, or None when it is absent or incomplete."""
    start, end = day_bounds_utc(business_date)
    rows = [r for r in await storage.read(KIND, start, end)
            if r.source == source and (r.price_kind or MARKET) == MARKET]
    if not rows:
        return None
    by_start = {r.period_start: r for r in rows if r.period_minutes == 15}
    expected = day_quarter_starts(business_date)
    if any(t not in by_start for t in expected):
        log.warning("stored %s prices of %s are incomplete (%d of %d quarter-hours); not used",
                    source, business_date, len(by_start), len(expected))
        return None
    quarters = tuple(MarketQuarter(t, by_start[t].price_pln_kwh,
                                   int((by_start[t].payload or {}).get("source_period_minutes", 15)))
                     for t in expected)
    published = [r.published_at for r in rows if r.published_at is not None]
    return MarketDay(business_date, source, quarters, published_at=max(published) if published else None,
                     origin="storage")
