"""Measured energy of a session on the AC side, priced quarter by quarter.

Each interval between two readings is measured at the grid meter: the delta of its lifetime
import (export) counter. For a charging session the grid-charge energy of an interval is that
import minus the house load of the interval (the AC load, integrated from the readings' power):
what flowed from the grid into the inverter, the inverter's conversion losses included (the
battery's DC counter misses them). A selling session is credited with everything the meter
exported. The energy of an interval that crosses a quarter boundary is split between the
quarters by time; each quarter's cost is its energy times its price.

The meter is cross-checked with the integrated grid power, and the AC energy with the
battery's DC counter (their difference is the losses). When the meter is unknown (None, no
meter data) the interval falls back to the integrated grid power (``measured_by: power``),
then to the battery's DC counter (``battery``); an interval with none is unknown, never 0,
and so is a session none of whose quarters was measured.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from gdpo.coordinator.model import QUARTER, Telemetry, quarter_start

# |meter - integrated grid power| above both of these flags a session's cross-check
CHECK_TOLERANCE_KWH = 0.1
CHECK_TOLERANCE_PCT = 10.0


def counter_delta(before: float | None, after: float | None) -> float | None:
    """``after - before`` of an energy counter; a counter that went back (a daily counter at
    midnight) counts from zero; None when either reading is unknown."""
    if before is None or after is None:
        return None
    delta = after - before
    return after if delta < -1e-9 else max(delta, 0.0)


def integrate_kwh(before_w: float | None, after_w: float | None, seconds: float) -> float | None:
    """Energy of a power between two readings ``seconds`` apart, kWh (trapezoid); None when
    either power is unknown."""
    if before_w is None or after_w is None:
        return None
    return (before_w + after_w) / 2 * seconds / 3_600_000


def quarter_parts(t0: _dt.datetime, t1: _dt.datetime) -> list[tuple[_dt.datetime, float]]:
    """The quarters the interval ``[t0, t1)`` touches, each with the fraction of the interval
    inside it (fractions sum to 1; empty when ``t1 <= t0``)."""
    total = (t1 - t0).total_seconds()
    if total <= 0:
        return []
    out, q = [], quarter_start(t0)
    while q < t1:
        seconds = (min(q + QUARTER, t1) - max(q, t0)).total_seconds()
        if seconds > 0:
            out.append((q, seconds / total))
        q += QUARTER
    return out


def _pos(value: float | None, sign: float) -> float | None:
    return None if value is None else max(sign * value, 0.0)


@dataclass
class IntervalEnergy:
    """What the readings at both ends of one interval measured, kWh (None: unknown)."""

    meter_kwh: float | None        # grid meter counter delta (import, or export)
    grid_power_kwh: float | None   # integrated grid power in that direction
    load_kwh: float | None         # integrated AC house load (charging only; 0 for export)
    battery_kwh: float | None      # the battery's DC counter delta (charge, or discharge)

    @property
    def measured_by(self) -> str:
        """``meter``, ``power``, ``battery`` or ``unknown``: what the energy comes from."""
        if self.meter_kwh is not None:
            return "meter"
        if self.grid_power_kwh is not None:
            return "power"
        return "battery" if self.battery_kwh is not None else "unknown"

    @property
    def energy_kwh(self) -> float | None:
        """The session's energy of the interval on the AC side (see the module docstring)."""
        grid = self.meter_kwh if self.meter_kwh is not None else self.grid_power_kwh
        if grid is None:
            return self.battery_kwh
        if self.load_kwh is None:
            return grid
        return min(max(grid - self.load_kwh, 0.0), grid)

    def scaled(self, fraction: float) -> "IntervalEnergy":
        """The part of this interval inside one quarter."""
        return IntervalEnergy(*(None if v is None else v * fraction for v in
                                (self.meter_kwh, self.grid_power_kwh, self.load_kwh, self.battery_kwh)))


def measure_interval(before: Telemetry, after: Telemetry, direction: str = "import") -> IntervalEnergy:
    """The energies between two readings for a session of ``direction`` (``import``: grid
    charging, ``export``: selling)."""
    seconds = (after.ts - before.ts).total_seconds()
    sign = 1.0 if direction == "import" else -1.0
    if direction == "import":
        meter = counter_delta(before.grid_import_total_kwh, after.grid_import_total_kwh)
        battery = counter_delta(before.battery_charge_kwh, after.battery_charge_kwh)
        load = integrate_kwh(before.house_consumption_w, after.house_consumption_w, seconds)
    else:
        meter = counter_delta(before.grid_export_total_kwh, after.grid_export_total_kwh)
        battery = counter_delta(before.battery_discharge_kwh, after.battery_discharge_kwh)
        load = 0.0
    grid = integrate_kwh(_pos(before.grid_power_w, sign), _pos(after.grid_power_w, sign), seconds)
    return IntervalEnergy(meter, grid, load, battery)


def _add(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return a + b


@dataclass
class QuarterEnergy:
    """The measured energy of one quarter of a session (the sum of its intervals' parts)."""

    period_start: _dt.datetime
    price_pln_kwh: float
    meter_kwh: float | None = None
    grid_power_kwh: float | None = None
    load_kwh: float | None = None
    battery_kwh: float | None = None
    measured_kwh: float | None = None
    sources: set[str] = field(default_factory=set)
    check: list[float] = field(default_factory=lambda: [0.0, 0.0, 0])  # meter, power, intervals: where both known

    def add(self, part: IntervalEnergy) -> None:
        """Add the part of an interval that lies in this quarter."""
        self.meter_kwh = _add(self.meter_kwh, part.meter_kwh)
        self.grid_power_kwh = _add(self.grid_power_kwh, part.grid_power_kwh)
        self.load_kwh = _add(self.load_kwh, part.load_kwh)
        self.battery_kwh = _add(self.battery_kwh, part.battery_kwh)
        self.measured_kwh = _add(self.measured_kwh, part.energy_kwh)
        self.sources.add(part.measured_by)
        if part.meter_kwh is not None and part.grid_power_kwh is not None:
            self.check[0] += part.meter_kwh
            self.check[1] += part.grid_power_kwh
            self.check[2] += 1

    @property
    def grid_kwh(self) -> float | None:
        """The grid meter's counter delta over the quarter (None without meter data)."""
        return self.meter_kwh

    @property
    def known(self) -> bool:
        """Whether anything measured this quarter."""
        return self.measured_kwh is not None

    @property
    def measured_by(self) -> str:
        """What measured the quarter: ``meter``, ``power``, ``battery`` or ``unknown``; several
        joined by ``+`` (``meter+unknown``: part of the quarter was not measured)."""
        return "+".join(sorted(self.sources)) or "unknown"

    @property
    def energy_kwh(self) -> float:
        """The quarter's measured energy (0 when unknown; see ``known``)."""
        return self.measured_kwh or 0.0

    @property
    def cost_pln(self) -> float:
        """Energy times the quarter's price."""
        return self.energy_kwh * self.price_pln_kwh

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (stored in the session's payload)."""
        return {"period_start": self.period_start.isoformat(), "price_pln_kwh": self.price_pln_kwh,
                "grid_kwh": self.meter_kwh, "grid_power_kwh": self.grid_power_kwh, "load_kwh": self.load_kwh,
                "battery_kwh": self.battery_kwh, "measured_by": self.measured_by,
                "energy_kwh": self.energy_kwh if self.known else None,
                "cost_pln": self.cost_pln if self.known else None}


class SessionMeter:
    """Accumulates measured quarters of one session from successive readings."""

    def __init__(self, direction: str = "import"):
        self.direction = direction
        self.quarters: list[QuarterEnergy] = []
        self._last: Telemetry | None = None
        self._prices: dict[_dt.datetime, float] = {}
        self.first: Telemetry | None = None

    def observe(self, reading: Telemetry, quarter_start: _dt.datetime, price_pln_kwh: float) -> None:
        """Record a reading in the quarter ``quarter_start`` (priced ``price_pln_kwh``): the
        energy since the previous reading is booked to the quarters it was used in."""
        self._prices.setdefault(quarter_start, price_pln_kwh)
        self.close_quarter(reading)
        if self.first is None:
            self.first = reading
            self._last = reading

    def close_quarter(self, reading: Telemetry) -> None:
        """Book the energy since the previous reading (at the end of a session too): a part
        in a quarter whose price was never given goes to the last priced quarter before it."""
        if self._last is None or reading.ts <= self._last.ts:
            return
        interval = measure_interval(self._last, reading, self.direction)
        for start, fraction in quarter_parts(self._last.ts, reading.ts):
            priced = [q for q in self._prices if q <= start]
            key = max(priced) if priced else min(self._prices)
            self._quarter(key).add(interval.scaled(fraction))
        self._last = reading

    def _quarter(self, start: _dt.datetime) -> QuarterEnergy:
        for q in reversed(self.quarters):
            if q.period_start == start:
                return q
        q = QuarterEnergy(start, self._prices[start])
        self.quarters.append(q)
        self.quarters.sort(key=lambda x: x.period_start)
        return q

    @property
    def unknown(self) -> bool:
        """True when quarters were booked but nothing measured any of them."""
        return bool(self.quarters) and not any(q.known for q in self.quarters)

    @property
    def energy_kwh(self) -> float | None:
        """Total measured energy (None when unknown: nothing measured any quarter)."""
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

    def cross_check(self) -> dict[str, Any]:
        """The meter against the integrated grid power, and the AC energy against the battery's
        DC counter (kWh; ``meter_agrees`` is False when they differ by more than
        ``CHECK_TOLERANCE_KWH`` and ``CHECK_TOLERANCE_PCT``, None when not both known)."""
        meter = sum(q.check[0] for q in self.quarters)
        power = sum(q.check[1] for q in self.quarters)
        both = any(q.check[2] for q in self.quarters)
        diff = meter - power
        pct = 100 * diff / power if both and power > 1e-9 else None
        agrees = None if not both else \
            abs(diff) <= CHECK_TOLERANCE_KWH or (pct is not None and abs(pct) <= CHECK_TOLERANCE_PCT)
        batteries = [q.battery_kwh for q in self.quarters if q.battery_kwh is not None]
        by: dict[str, int] = {}
        for q in self.quarters:
            by[q.measured_by] = by.get(q.measured_by, 0) + 1
        return {"measured_by": by, "meter_kwh": meter if both else None, "grid_power_kwh": power if both else None,
                "meter_vs_power_pct": pct, "meter_agrees": agrees,
                "battery_dc_kwh": sum(batteries) if batteries else None}

    def to_json(self) -> list[dict[str, Any]]:
        """The measured quarters, JSON-ready."""
        return [q.to_json() for q in self.quarters]
