"""The known price horizon: every priced quarter from now on, across midnight when tomorrow
is published, and the quarter selection shared by the rules and the daily plan.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Iterable, Sequence

from gdpo.coordinator.model import QUARTER, PriceQuarterLike, quarter_start


class Horizon:
    """Priced quarters sorted by start; ``current`` is the quarter holding ``now``."""

    def __init__(self, prices: Iterable[PriceQuarterLike], now: _dt.datetime):
        self.now = now
        self.quarters: list[Any] = sorted(prices, key=lambda q: q.period_start)
        self.current = self.at(now)

    def at(self, t: _dt.datetime):
        """The quarter with ``period_start <= t < period_start + its length``, or None."""
        for q in self.quarters:
            length = _dt.timedelta(minutes=getattr(q, "period_minutes", 15) or 15)
            if q.period_start <= t < q.period_start + length:
                return q
        return None

    @property
    def end(self) -> _dt.datetime | None:
        """The end of the last known quarter."""
        if not self.quarters:
            return None
        return self.quarters[-1].period_start + QUARTER

    def upcoming(self, hours: float | None = None, *, until: _dt.datetime | None = None) -> list[Any]:
        """Quarters from the current one on, starting before ``now + hours`` (and ``until``)."""
        first = quarter_start(self.now)
        limit = self.now + _dt.timedelta(hours=hours) if hours is not None else None
        if until is not None:
            limit = until if limit is None else min(limit, until)
        return [q for q in self.quarters if q.period_start >= first and (limit is None or q.period_start < limit)]

    def cheapest(self, hours: float) -> float | None:
        """The lowest final price among the quarters of the next ``hours``."""
        qs = self.upcoming(hours)
        return min((q.final_pln_kwh for q in qs), default=None)


def energy_per_quarter_kwh(battery: dict[str, Any], charging: dict[str, Any]) -> float:
    """Energy one quarter-hour of grid charging puts into the battery, kWh."""
    power_w = battery["max_charge_power_w"] * charging.get("charge_power_pct", 100) / 100
    return power_w / 1000 * 0.25 * battery["charge_efficiency"]


def energy_needed_kwh(soc_pct: float, target_soc_pct: float, capacity_kwh: float) -> float:
    """Battery energy to go from ``soc_pct`` to ``target_soc_pct``, kWh (never negative)."""
    return max(0.0, (target_soc_pct - soc_pct) / 100 * capacity_kwh)


def quarters_needed(energy_kwh: float, per_quarter_kwh: float) -> int:
    """How many quarters of charging deliver ``energy_kwh``."""
    if energy_kwh <= 1e-9 or per_quarter_kwh <= 0:
        return 0
    return math.ceil(energy_kwh / per_quarter_kwh - 1e-9)


def cheapest_quarters(candidates: Sequence[Any], count: int) -> list[Any]:
    """The ``count`` cheapest quarters (by final price; ties: the earlier first), in time order."""
    if count <= 0:
        return []
    ranked = sorted(candidates, key=lambda q: (q.final_pln_kwh, q.period_start))[:count]
    return sorted(ranked, key=lambda q: q.period_start)
