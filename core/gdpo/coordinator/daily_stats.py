"""daily_stats: the totals of one local day, computed after its midnight from measured records.

Import and export are the grid meter's lifetime counters (and house consumption the inverter's
lifetime counter), never integrated power samples: each interval between two stored readings
is booked to the quarters it lies in (split by time when it crosses a boundary, as the
sessions' metering does), and the day is the sum of its quarters, from the reading at (or
last before) midnight to the one at (or first after) the next midnight. Readings aligned to
the minute make that exact. The cost of the day's import is each quarter's import times its
final price; the export value is each quarter's export times its export value (RCE when
``prices.export_prices`` is on and known, else the market price; a negative price counts 0:
Polish net-billing), both stored in the payload. PV is the inverter's day counter at its
maximum; consumption the inverter's day counter at the day's last reading when present
(finer). Grid-charge energy and cost, and selling revenue, are sums of the measured sessions,
computed by the storage ``aggregate`` on the local calendar day.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from gdpo.coordinator.backtest import export_value
from gdpo.coordinator.metering import counter_delta, quarter_parts
from gdpo.coordinator.model import PriceBasis
from gdpo.storage.aggregate import local_midnight_utc
from gdpo.storage.records import DailyStats

COUNTERS = {"grid_import_total_kwh": "total_grid_import_kwh", "grid_export_total_kwh": "total_grid_export_kwh",
            "house_consumption_total_kwh": "total_consumption_kwh"}
EDGE = _dt.timedelta(hours=1)  # how far before and after the day a counter's edge reading is looked for


async def day_readings(storage, start: _dt.datetime, end: _dt.datetime) -> list[Any]:
    """The readings of ``[start, end)`` with the last one before ``start`` and the first at or
    after ``end`` (each within an hour), oldest first: the counters' edges."""
    before = await storage.read("energy_data", start - EDGE, start, limit=1, descending=True)
    inside = await storage.read("energy_data", start, end)
    after = await storage.read("energy_data", end, end + EDGE, limit=1)
    return list(before) + list(inside) + list(after)


def by_quarter(readings: Sequence[Any], counter: str, start: _dt.datetime,
               end: _dt.datetime) -> dict[_dt.datetime, float] | None:
    """A lifetime counter's energy per quarter of ``[start, end)``: each delta between two
    readings that know the counter, split by time over the quarters it spans (None when no
    two readings know it)."""
    out: dict[_dt.datetime, float] = {}
    prev, known = None, False
    for r in readings:
        value = getattr(r, counter)
        if value is None:
            continue
        if prev is not None:
            delta = counter_delta(getattr(prev, counter), value)
            known = True
            for q, fraction in quarter_parts(prev.ts, r.ts):
                if start <= q < end:
                    out[q] = out.get(q, 0.0) + delta * fraction
        prev = r
    return out if known else None


def priced_sum(energy: dict[_dt.datetime, float] | None, price_of: dict[_dt.datetime, float]) -> tuple[float | None, float]:
    """(sum of each quarter's energy x its price, energy of quarters without a price); the sum
    is None when the energy is unknown or no quarter has a price."""
    if energy is None:
        return None, 0.0
    priced = [(kwh, price_of[q]) for q, kwh in energy.items() if q in price_of]
    unpriced = sum(kwh for q, kwh in energy.items() if q not in price_of)
    return (sum(kwh * p for kwh, p in priced) if priced else None), unpriced


async def _sum_by_day(storage, kind: str, start, end, fields: dict[str, str], tz: str) -> dict[str, Any]:
    rows = await storage.aggregate(kind, start, end, every="1d", fields=fields, tz=tz)
    return rows[0] if rows else {}


def _last_day_counter(readings: Sequence[Any], start: _dt.datetime, end: _dt.datetime, name: str) -> float | None:
    """A day counter (kept in the payload of ``energy_data``) at the day's last reading."""
    inside = [r for r in readings if start <= r.ts < end]
    value = (inside[-1].payload or {}).get(name) if inside else None
    return float(value) if isinstance(value, (int, float)) else None


async def compute_daily_stats(storage, day: _dt.date, prices: Sequence[Any], tz: str, *,
                              basis: PriceBasis | None = None) -> DailyStats | None:
    """The ``daily_stats`` record of local ``day`` (None when no reading of that day exists);
    ``basis`` says whether export is valued at RCE (``prices.export_prices``) or at the market
    price (RCE where the quarters carry it, by default)."""
    basis = basis or PriceBasis()
    start, end = local_midnight_utc(day, tz), local_midnight_utc(day + _dt.timedelta(days=1), tz)
    energy = await _sum_by_day(storage, "energy_data", start, end, {"pv_energy_today_kwh": "max"}, tz)
    if not energy:
        return None
    readings = await day_readings(storage, start, end)
    values: dict[str, Any] = {"date": day, "source": "computed"}
    quarters = {counter: by_quarter(readings, counter, start, end) for counter in COUNTERS}
    for counter, name in COUNTERS.items():
        values[name] = sum(quarters[counter].values()) if quarters[counter] is not None else None
    values["total_pv_kwh"] = energy.get("pv_energy_today_kwh")
    lifetime_consumption = values["total_consumption_kwh"]
    day_counter = _last_day_counter(readings, start, end, "house_consumption_today_kwh")
    if day_counter is not None:  # the inverter's day counter is finer than its lifetime counter
        values["total_consumption_kwh"] = day_counter
    day_prices = [q for q in prices if start <= q.period_start < end]
    avg = sum(q.final_pln_kwh for q in day_prices) / len(day_prices) if day_prices else None
    values["avg_price_pln_kwh"] = avg
    charged = await _sum_by_day(storage, "charging_sessions", start, end,
                                {"actual_energy_kwh": "sum", "cost_pln": "sum"}, tz)
    values["grid_charge_kwh"] = charged.get("actual_energy_kwh") or 0.0
    values["grid_charge_cost_pln"] = charged.get("cost_pln") or 0.0
    sold = await _sum_by_day(storage, "battery_selling_sessions", start, end, {"revenue_pln": "sum"}, tz)
    values["selling_revenue_pln"] = sold.get("revenue_pln") or 0.0
    cost, unpriced_import = priced_sum(quarters["grid_import_total_kwh"],
                                       {q.period_start: q.final_pln_kwh for q in day_prices})
    export, unpriced_export = priced_sum(quarters["grid_export_total_kwh"],
                                         {q.period_start: export_value(q, basis.use_rce) for q in day_prices})
    savings = values["grid_charge_kwh"] * avg - values["grid_charge_cost_pln"] if avg is not None else None
    values["payload"] = {"readings": energy.get("count"), "import_cost_pln": cost, "export_value_pln": export,
                         "price_basis": basis.to_json(), "unpriced_import_kwh": unpriced_import,
                         "unpriced_export_kwh": unpriced_export, "grid_charge_savings_pln": savings,
                         "consumption_lifetime_counter_kwh": lifetime_consumption,
                         "prices_known": len(day_prices),
                         "prices_sample": any(getattr(q, "is_sample", False) for q in day_prices)}
    return DailyStats(**values)
