"""daily_stats: the totals of one local day, computed after its midnight from measured records.

Energies are counter deltas (meter import/export and house consumption lifetime counters;
the inverter's PV day counter at its maximum, and its consumption day counter at the day's
last reading when present, being finer), never integrated power samples. Grid-charge
energy and cost, and selling revenue, are sums of the measured sessions, computed by the
storage ``aggregate`` on the local calendar day. The cost of all imported energy is each
quarter's import (counter delta) times its final price.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from gdpo.coordinator.metering import counter_delta
from gdpo.storage.aggregate import local_midnight_utc
from gdpo.storage.records import DailyStats

COUNTERS = {"grid_import_total_kwh": "total_grid_import_kwh", "grid_export_total_kwh": "total_grid_export_kwh",
            "house_consumption_total_kwh": "total_consumption_kwh"}


async def _baseline(storage, start: _dt.datetime) -> Any:
    """The last reading before ``start`` (within an hour), the counters' starting point."""
    rows = await storage.read("energy_data", start - _dt.timedelta(hours=1), start, limit=1, descending=True)
    return rows[0] if rows else None


async def _last_day_counter(storage, start: _dt.datetime, end: _dt.datetime, name: str) -> float | None:
    """A day counter (kept in the payload of ``energy_data``) at the day's last reading."""
    rows = await storage.read("energy_data", start, end, limit=1, descending=True)
    value = (rows[0].payload or {}).get(name) if rows else None
    return float(value) if isinstance(value, (int, float)) else None


async def _sum_by_day(storage, kind: str, start, end, fields: dict[str, str], tz: str) -> dict[str, Any]:
    rows = await storage.aggregate(kind, start, end, every="1d", fields=fields, tz=tz)
    return rows[0] if rows else {}


async def import_cost_pln(storage, start: _dt.datetime, end: _dt.datetime, prices: Sequence[Any],
                          baseline: float | None) -> float | None:
    """Cost of the day's grid import: each quarter's import counter delta times its final price."""
    rows = await storage.aggregate("energy_data", start, end, every="15m", fields={"grid_import_total_kwh": "last"})
    by_start = {q.period_start: q.final_pln_kwh for q in prices}
    total, prev, known = 0.0, baseline, False
    for row in rows:
        value = row.get("grid_import_total_kwh")
        delta = counter_delta(prev, value)
        if delta is not None and row["bucket"] in by_start:
            total += delta * by_start[row["bucket"]]
            known = True
        if value is not None:
            prev = value
    return total if known else None


async def compute_daily_stats(storage, day: _dt.date, prices: Sequence[Any], tz: str) -> DailyStats | None:
    """The ``daily_stats`` record of local ``day`` (None when no reading of that day exists)."""
    start, end = local_midnight_utc(day, tz), local_midnight_utc(day + _dt.timedelta(days=1), tz)
    fields = {name: ["first", "last"] for name in COUNTERS}
    fields["pv_energy_today_kwh"] = "max"
    energy = await _sum_by_day(storage, "energy_data", start, end, fields, tz)
    if not energy:
        return None
    base = await _baseline(storage, start)
    values: dict[str, Any] = {"date": day, "source": "computed"}
    for counter, name in COUNTERS.items():
        first = getattr(base, counter) if base is not None and getattr(base, counter) is not None \
            else energy.get(f"{counter}_first")
        values[name] = counter_delta(first, energy.get(f"{counter}_last"))
    values["total_pv_kwh"] = energy.get("pv_energy_today_kwh")
    lifetime_consumption = values["total_consumption_kwh"]
    day_counter = await _last_day_counter(storage, start, end, "house_consumption_today_kwh")
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
    cost = await import_cost_pln(storage, start, end, day_prices,
                                 base.grid_import_total_kwh if base is not None else None)
    savings = values["grid_charge_kwh"] * avg - values["grid_charge_cost_pln"] if avg is not None else None
    values["payload"] = {"readings": energy.get("count"), "import_cost_pln": cost, "grid_charge_savings_pln": savings,
                         "consumption_lifetime_counter_kwh": lifetime_consumption,
                         "prices_known": len(day_prices),
                         "prices_sample": any(getattr(q, "is_sample", False) for q in day_prices)}
    return DailyStats(**values)
