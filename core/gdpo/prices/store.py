"""Market prices in storage: a complete day as ``price_forecasts`` records and back.

Each quarter-hour is one record: ``period_start`` (UTC), ``source`` (``csdac-pln`` or
``rce-pln``), ``period_minutes`` 15, ``price_pln_kwh``, ``price_kind`` ``market``,
``business_date`` (local delivery day), ``published_at``, ``fetched_at``; the payload keeps
the PSE price in PLN/MWh and, for an hourly day, ``source_period_minutes`` 60.

A bundled SAMPLE day (served by a simulated run) is stored the same way with
``payload.sample = true``. :func:`load_day` never returns sample rows as a market day: a real
run ignores them, fetches the real day from PSE and its records replace the sample ones (same
natural key). A simulated run rebuilds its sample days from the bundled file.
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
    """The ``price_forecasts`` records of a complete market day; a sample day's records carry
    ``payload.sample = true``."""
    marks = {"sample": True} if day.is_sample else {}
    out = []
    for q in day.quarters:
        extra = {"source_period_minutes": q.source_period_minutes} if q.source_period_minutes != 15 else {}
        extra.update(marks)
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


def is_sample_record(record: PriceForecast) -> bool:
    """True for a stored record of the bundled SAMPLE prices (``payload.sample``)."""
    return bool((record.payload or {}).get("sample"))


async def load_day(storage: Storage, business_date: _dt.date, source: str) -> MarketDay | None:
    """The stored market day of ``source``, or None when it is absent or incomplete. Stored
    SAMPLE rows are never part of it: a sample day reads as absent."""
    start, end = day_bounds_utc(business_date)
    rows = [r for r in await storage.read(KIND, start, end)
            if r.source == source and (r.price_kind or MARKET) == MARKET]
    samples = [r for r in rows if is_sample_record(r)]
    if samples:
        log.debug("stored SAMPLE %s prices of %s (%d quarter-hours) ignored", source, business_date, len(samples))
        rows = [r for r in rows if not is_sample_record(r)]
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
