"""Stored history as a backtest :class:`~gdpo.coordinator.backtest.Replay`: ``energy_data``
averaged per quarter-hour and ``price_forecasts`` priced under the configured tariff.

Records of a simulated run (``payload.simulated``) and stored SAMPLE prices
(``payload.sample``) are left out unless ``include_simulated`` (``gdpo backtest --simulated``):
a backtest of the real history never replays invented readings or prices."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections import defaultdict
from typing import Any, Mapping

from gdpo.coordinator.backtest import FORECAST_WEEKS, Quarter, Replay
from gdpo.coordinator.model import quarter_start
from gdpo.prices.model import SOURCE_DAY_AHEAD, SOURCE_EXPORT
from gdpo.prices.service import quarter_price
from gdpo.prices.tariffs import TariffConfig
from gdpo.storage.aggregate import local_midnight_utc, zone

PUBLISHED_LOCAL_HOUR = 14  # a stored day without ``published_at``: known from 14:00 the day before


def assumed_published_at(business_date: _dt.date, tz: str) -> _dt.datetime:
    """When a day-ahead day counts as known if its record does not say."""
    day_before = business_date - _dt.timedelta(days=1)
    return local_midnight_utc(day_before, tz) + _dt.timedelta(hours=PUBLISHED_LOCAL_HOUR)


def _real(record) -> bool:
    payload = record.payload or {}
    return not (payload.get("simulated") or payload.get("sample"))


async def load_replay(storage, start: _dt.datetime, end: _dt.datetime, config: Mapping[str, Any],
                      tariffs: Mapping[str, Any] | None, prices_section: Mapping[str, Any] | None, *,
                      include_simulated: bool = False) -> Replay:
    """Readings from 4 weeks before ``start`` (for forecasts) to ``end``, prices to a day after;
    a simulated run's records and SAMPLE prices only with ``include_simulated``."""
    tz = config["coordinator"]["timezone"]
    keep = (lambda r: True) if include_simulated else _real
    history_start = start - _dt.timedelta(weeks=FORECAST_WEEKS)
    horizon_end = end + _dt.timedelta(days=1)
    sums: dict[_dt.datetime, list[float]] = defaultdict(lambda: [0.0, 0, 0.0, 0])
    soc: dict[_dt.datetime, float] = {}
    for r in await storage.read("energy_data", history_start, end):
        if not keep(r):
            continue
        t = quarter_start(r.ts)
        acc = sums[t]
        if r.house_consumption_w is not None:
            acc[0] += r.house_consumption_w
            acc[1] += 1
        if r.pv_power_w is not None:
            acc[2] += r.pv_power_w
            acc[3] += 1
        if r.battery_soc_pct is not None and t not in soc:
            soc[t] = r.battery_soc_pct
    tariff = TariffConfig.from_section(tariffs)
    use_rce = bool((prices_section or {}).get("export_prices", False))
    market: dict[_dt.datetime, Any] = {}
    export: dict[_dt.datetime, float] = {}
    for r in await storage.read("price_forecasts", history_start, horizon_end):
        if (r.price_kind or "market") != "market" or r.period_minutes != 15 or not keep(r):
            continue
        if r.source == SOURCE_DAY_AHEAD:
            market[r.period_start] = r
        elif r.source == SOURCE_EXPORT:
            export[r.period_start] = r.price_pln_kwh
    quarters = []
    t = quarter_start(history_start)
    while t < horizon_end:
        acc = sums.get(t)
        load = acc[0] / acc[1] / 1000 if acc and acc[1] else None
        pv = acc[2] / acc[3] / 1000 if acc and acc[3] else None
        rec = market.get(t)
        price = known = None
        if rec is not None:
            price = dataclasses.replace(quarter_price(t, rec.price_pln_kwh, tariff), export_pln_kwh=export.get(t))
            business = rec.business_date or t.astimezone(zone(tz)).date()
            known = rec.published_at or assumed_published_at(business, tz)
        quarters.append(Quarter(t, load, pv, soc.get(t), price, known))
        t += _dt.timedelta(minutes=15)
    return Replay(quarters, start, end, config, use_rce=use_rce)
