"""Measured energy of a session from counter deltas, priced quarter by quarter.

Energy is never integrated from power samples: each quarter's energy is the difference of
the meter's lifetime import (or export) counter and of the battery's charge counter
between two readings. A quarter's grid-charge energy is the smaller of the two deltas
(what came from the grid and went into the battery); its cost is that energy times the
quarter's final price. A counter that is unknown (None: no meter data) is never taken as 0:
the quarter uses the other counter and says so (``measured_by``), and a quarter with neither
is unknown (None), as is a session none of whose quarters was measured.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from gdpo.coordinator.model import Telemetry


def counter_delta(before: float | None, after: float | None) -> float | None:
    """``after - before`` of an energy counter; a counter that went back (a daily counter at
    midnight) counts from zero; None when either reading is unknown."""
    if before is None or after is None:
        return None
    delta = after - before
    return after if delta < -1e-9 else max(delta, 0.0)


@dataclass
class QuarterEnergy:
    """The measured energy of one quarter of a session."""

    period_start: _dt.datetime
    price_pln_kwh: float
    grid_kwh: float | None
    battery_kwh: float | None

    @property
    def known(self) -> bool:
        """Whether either counter measured this quarter."""
        return self.grid_kwh is not None or self.battery_kwh is not None

    @property
    def measured_by(self) -> str:
        """Which counters the energy comes from: ``grid+battery``, ``grid``, ``battery`` or ``unknown``."""
        parts = [name for name, v in (("grid", self.grid_kwh), ("battery", self.battery_kwh)) if v is not None]
        return "+".join(parts) or "unknown"

    @property
    def energy_kwh(self) -> float:
        """Grid-charge energy: the smaller known delta (0 when neither is known; see ``known``)."""
        known = [v for v in (self.grid_kwh, self.battery_kwh) if v is not None]
        return min(known) if known else 0.0

    @property
    def cost_pln(self) -> float:
        """Energy times the quarter's price."""
        return self.energy_kwh * self.price_pln_kwh

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (stored in the session's payload)."""
        return {"period_start": self.period_start.isoformat(), "price_pln_kwh": self.price_pln_kwh,
                "grid_kwh": self.grid_kwh, "battery_kwh": self.battery_kwh, "measured_by": self.measured_by,
                "energy_kwh": self.energy_kwh if self.known else None,
                "cost_pln": self.cost_pln if self.known else None}


def _add(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return a + b


class SessionMeter:
    """Accumulates measured quarters of one session from successive readings."""

    def __init__(self, direction: str = "import"):
        self.direction = direction
        self.quarters: list[QuarterEnergy] = []
        self._last: Telemetry | None = None
        self._last_price: tuple[_dt.datetime, float] | None = None
        self.first: Telemetry | None = None

    def _grid(self, t: Telemetry) -> float | None:
        return t.grid_import_total_kwh if self.direction == "import" else t.grid_export_total_kwh

    def _battery(self, t: Telemetry) -> float | None:
        return t.battery_charge_kwh if self.direction == "import" else t.battery_discharge_kwh

    def observe(self, reading: Telemetry, quarter_start: _dt.datetime, price_pln_kwh: float) -> None:
        """Record a reading taken at the start of ``quarter_start`` (priced ``price_pln_kwh``):
        the energy since the previous reading is booked to the previous quarter."""
        self.close_quarter(reading)
        self._last = reading
        self._last_price = (quarter_start, price_pln_kwh)
        if self.first is None:
            self.first = reading

    def close_quarter(self, reading: Telemetry) -> None:
        """Book the energy since the previous reading to its quarter (at the end of a session)."""
        if self._last is None or self._last_price is None or reading.ts <= self._last.ts:
            return
        start, price = self._last_price
        grid = counter_delta(self._grid(self._last), self._grid(reading))
        battery = counter_delta(self._battery(self._last), self._battery(reading))
        prev = self.quarters[-1] if self.quarters else None
        if prev is not None and prev.period_start == start:
            prev.grid_kwh = _add(prev.grid_kwh, grid)
            prev.battery_kwh = _add(prev.battery_kwh, battery)
        else:
            self.quarters.append(QuarterEnergy(start, price, grid, battery))
        self._last = reading
        self._last_price = None

    @property
    def unknown(self) -> bool:
        """True when quarters were booked but no counter measured any of them."""
        return bool(self.quarters) and not any(q.known for q in self.quarters)

    @property
    def energy_kwh(self) -> float | None:
        """Total measured energy (None when unknown: no counter measured any quarter)."""
        return None if self.unknown else sum(q.energy_kwh for q in self.quarters if q.known)

    @property
    def cost_pln(self) -> float | None:
        """Total cost (or revenue): each quarter's energy times its price (None when unknown)."""
        return None if self.unknown else sum(q.cost_pln for q in self.quarters if q.known)

    @property
    def avg_price_pln_kwh(self) -> float | None:
        """Energy-weighted average price, None when nothing was measured."""
        e = self.energy_kwh
        return self.cost_pln / e if e is not None and e > 1e-12 else None

    def to_json(self) -> list[dict[str, Any]]:
        """The measured quarters, JSON-ready."""
        return [q.to_json() for q in self.quarters]
