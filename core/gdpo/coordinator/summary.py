"""The summary of a run, computed from the stored records (so it reconciles with them).

Energy charged and its cost are the sums of the measured ``charging_sessions`` that ran in
the period; savings compare that cost with buying the same energy at the average final
price of the local day(s) of the run.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from typing import Any

from gdpo.storage import record_class
from gdpo.storage.aggregate import local_midnight_utc, zone

STARTED = ("active", "completed", "cancelled", "failed")


@dataclass(frozen=True)
class RunSummary:
    """Totals of one run, from the database."""

    start: _dt.datetime
    end: _dt.datetime
    sessions: int
    energy_charged_kwh: float
    cost_pln: float
    avg_day_price_pln_kwh: float | None
    savings_pln: float | None
    decisions: int
    states: int
    readings: int
    selling_revenue_pln: float
    sample_prices: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out

    def lines(self, tz: str) -> list[str]:
        """The summary as printed at the end of ``gdpo run``."""
        loc = lambda t: t.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")  # noqa: E731
        avg = "?" if self.avg_day_price_pln_kwh is None else f"{self.avg_day_price_pln_kwh:.4f} PLN/kWh"
        savings = "?" if self.savings_pln is None else f"{self.savings_pln:.2f} PLN"
        label = " (SAMPLE prices, not real market data)" if self.sample_prices else ""
        return [
            f"Summary {loc(self.start)} .. {loc(self.end)}{label}",
            f"  charging sessions:  {self.sessions}",
            f"  energy charged:     {self.energy_charged_kwh:.3f} kWh",
            f"  cost:               {self.cost_pln:.2f} PLN",
            f"  day's average price {avg}",
            f"  savings vs average: {savings}",
            f"  selling revenue:    {self.selling_revenue_pln:.2f} PLN",
            f"  stored: {self.decisions} decisions, {self.states} states, {self.readings} readings",
        ]


async def count_records(storage, kind: str, start: _dt.datetime, end: _dt.datetime) -> int:
    """How many records of ``kind`` have ``start <= time < end``: counted by the backend
    (an hourly aggregate's row counts) without loading the records, which for a day of decisions
    with their plans is megabytes; read and counted where the backend cannot aggregate."""
    numeric = record_class(kind).SPEC.numeric_fields
    if numeric and storage.capabilities.aggregate:
        buckets = await storage.aggregate(kind, start, end, every="1h", fields={numeric[0]: "count"})
        return sum(b["count"] for b in buckets)
    return len(await storage.read(kind, start, end))


async def run_summary(storage, start: _dt.datetime, end: _dt.datetime, prices_source, tz: str) -> RunSummary:
    """Summarise the records of ``[start, end]`` (sessions that started in it)."""
    until = end + _dt.timedelta(seconds=1)
    sessions = [s for s in await storage.read("charging_sessions", start, until) if s.status in STARTED]
    energy = sum(s.actual_energy_kwh or 0.0 for s in sessions)
    cost = sum(s.cost_pln or 0.0 for s in sessions)
    first_day = start.astimezone(zone(tz)).date()
    last_day = end.astimezone(zone(tz)).date()
    prices = await prices_source.prices_between(local_midnight_utc(first_day, tz),
                                                local_midnight_utc(last_day + _dt.timedelta(days=1), tz))
    avg = sum(q.final_pln_kwh for q in prices) / len(prices) if prices else None
    savings = energy * avg - cost if avg is not None else None
    sold = [s for s in await storage.read("battery_selling_sessions", start, until) if s.status in STARTED]
    return RunSummary(
        start=start, end=end, sessions=len(sessions), energy_charged_kwh=energy, cost_pln=cost,
        avg_day_price_pln_kwh=avg, savings_pln=savings,
        decisions=await count_records(storage, "coordinator_decisions", start, until),
        states=await count_records(storage, "system_state", start, until),
        readings=await count_records(storage, "energy_data", start, until),
        selling_revenue_pln=sum(s.revenue_pln or 0.0 for s in sold),
        sample_prices=any(getattr(q, "is_sample", False) for q in prices))
