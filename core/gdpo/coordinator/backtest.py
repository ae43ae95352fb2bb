"""The backtest: stored readings and prices replayed through each strategy with one battery model.

Strategies: ``none`` (no battery), ``self`` (charged from PV surplus only, discharged to the
load), ``rules`` (the charging rules of :mod:`gdpo.coordinator.logic`), ``optimiser`` (the
linear programme of :mod:`gdpo.coordinator.optimiser`, re-planned each quarter) and
``optimum`` (the same programme with perfect foresight over the whole range: a lower bound
no strategy can beat, shown for reference).

Honesty: at the start of each quarter a strategy sees the battery's SOC, the reading of the
quarter before, the prices published by then (``published_at``; a day without it counts as
published at 14:00 local the day before) and forecasts built from earlier days only. The
quarter is then settled with what really happened: ``net = load - pv + charge - discharge``
(AC side), ``import = max(net, 0)``, ``export = max(-net, 0)``, import at the final price,
export at the export value (RCE when known and ``prices.export_prices`` is on, else the
market price), never below 0. A quarter without readings or without a price is a gap: named
in the result and skipped by every strategy alike (the battery carries over unchanged).
"""

from __future__ import annotations

import bisect
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from gdpo.coordinator.logic import HybridChargingLogic
from gdpo.coordinator.model import CHARGE, CONTINUE, HOLD, QUARTER, STOP, Telemetry, export_price
from gdpo.coordinator.optimiser import BatteryModel, OptimiserError, solve
from gdpo.storage.aggregate import local_midnight_utc, zone

STRATEGIES = ("none", "self", "rules", "optimiser", "optimum")
DT_H = 0.25
FORECAST_WEEKS = 4
FORECAST_DAYS = 7
KNOWN_AHEAD = _dt.timedelta(hours=50)  # day-ahead prices never reach further


class BacktestError(ValueError):
    """The backtest cannot run (no prices, no readings, a bad range)."""


@dataclass(frozen=True)
class Quarter:
    """One quarter of the replay: actual means (kW) and its prices."""

    start: _dt.datetime
    load_kw: float | None
    pv_kw: float | None
    soc_pct: float | None
    price: Any | None            # a QuarterPrice (final, market, export)
    known_at: _dt.datetime | None  # when its price was published

    @property
    def gap(self) -> str | None:
        """Why this quarter is skipped, or None."""
        if self.load_kw is None or self.pv_kw is None:
            return "no readings"
        if self.price is None:
            return "no price"
        return None


@dataclass
class Totals:
    """Energy (kWh) and money (PLN) of one strategy over a range or a day."""

    load_kwh: float = 0.0
    pv_kwh: float = 0.0
    import_kwh: float = 0.0
    export_kwh: float = 0.0
    battery_charge_kwh: float = 0.0
    battery_discharge_kwh: float = 0.0
    grid_charge_kwh: float = 0.0
    grid_charge_cost_pln: float = 0.0
    import_cost_pln: float = 0.0
    export_revenue_pln: float = 0.0

    def add(self, q: Quarter, charge_kw: float, discharge_kw: float, export_value: float) -> None:
        """Settle one quarter."""
        net = q.load_kw - q.pv_kw + charge_kw - discharge_kw
        imp, exp = max(net, 0.0) * DT_H, max(-net, 0.0) * DT_H
        grid_charge = max(charge_kw - max(q.pv_kw - q.load_kw, 0.0), 0.0) * DT_H
        final = q.price.final_pln_kwh
        self.load_kwh += q.load_kw * DT_H
        self.pv_kwh += q.pv_kw * DT_H
        self.import_kwh += imp
        self.export_kwh += exp
        self.battery_charge_kwh += charge_kw * DT_H
        self.battery_discharge_kwh += discharge_kw * DT_H
        self.grid_charge_kwh += min(grid_charge, imp)
        self.grid_charge_cost_pln += min(grid_charge, imp) * final
        self.import_cost_pln += imp * final
        self.export_revenue_pln += exp * max(export_value, 0.0)

    def to_json(self, capacity_kwh: float) -> dict[str, Any]:
        """The figures, rounded, with ``net_cost_pln`` and ``cycles``."""
        out = {k: round(v, 4) for k, v in self.__dict__.items()}
        out["net_cost_pln"] = round(self.import_cost_pln - self.export_revenue_pln, 4)
        out["cycles"] = round(self.battery_discharge_kwh / capacity_kwh, 3)
        return out


@dataclass
class Battery:
    """The simulated battery of one strategy."""

    model: BatteryModel
    soc_kwh: float

    @property
    def soc_pct(self) -> float:
        """SOC in %."""
        return self.soc_kwh / self.model.capacity_kwh * 100

    def step(self, q: Quarter, grid_charge_kw: float | None) -> tuple[float, float]:
        """Run one quarter: a grid charge at ``grid_charge_kw`` (AC, kW), or self-use when None;
        returns (charge_kw, discharge_kw) on the AC side after the SOC and power limits."""
        m = self.model
        room_kw = max(m.soc_kwh(m.max_soc_pct) - self.soc_kwh, 0.0) / (m.charge_efficiency * DT_H)
        avail_kw = max(self.soc_kwh - m.soc_kwh(m.min_soc_pct), 0.0) * m.discharge_efficiency / DT_H
        surplus = q.pv_kw - q.load_kw
        charge = discharge = 0.0
        if isinstance(grid_charge_kw, _Exact):
            charge = min(grid_charge_kw.charge_kw, m.charge_power_kw, room_kw)
            discharge = min(grid_charge_kw.discharge_kw, m.discharge_power_kw, avail_kw)
        elif grid_charge_kw is not None:
            charge = min(max(grid_charge_kw, max(surplus, 0.0)), m.charge_power_kw, room_kw)
        elif surplus > 0:
            charge = min(surplus, m.charge_power_kw, room_kw)
        else:
            discharge = min(-surplus, m.discharge_power_kw, avail_kw)
        self.soc_kwh += DT_H * (charge * m.charge_efficiency - discharge / m.discharge_efficiency)
        return charge, discharge


def export_value(price: Any, use_rce: bool) -> float:
    """The export value of a quarter, PLN/kWh: RCE when on and known, else market; never below 0."""
    return max(export_price(price) if use_rce else float(price.market_pln_kwh), 0.0)


class Forecaster:
    """Load and PV forecasts from earlier days only.

    Load: the mean of the same weekday and local quarter over the last 4 weeks; with fewer
    than 2 such days, the mean of the same quarter over the last 7 days; with none, the last
    reading. PV: the mean of the same quarter over the last 7 days (else the last reading).
    """

    def __init__(self, quarters: Sequence[Quarter], tz: str):
        self.tz = zone(tz)
        self.by_key: dict[tuple[_dt.date, int, int], tuple[float, float]] = {}
        self.cache: dict[tuple[_dt.datetime, _dt.date], tuple[float | None, float | None]] = {}
        for q in quarters:
            if q.load_kw is not None and q.pv_kw is not None:
                local = q.start.astimezone(self.tz)
                self.by_key[(local.date(), local.hour, local.minute)] = (q.load_kw, q.pv_kw)

    def _mean(self, days: list[_dt.date], hour: int, minute: int, index: int) -> float | None:
        vals = [self.by_key[(d, hour, minute)][index] for d in days if (d, hour, minute) in self.by_key]
        return sum(vals) / len(vals) if vals else None

    def at(self, t: _dt.datetime, today: _dt.date, last: tuple[float, float]) -> tuple[float, float]:
        """(load_kw, pv_kw) forecast for quarter ``t``, knowing days before ``today``."""
        key = (t, today)
        if key not in self.cache:
            self.cache[key] = self._from_history(t, today)
        load, pv = self.cache[key]
        return (last[0] if load is None else load, last[1] if pv is None else pv)

    def _from_history(self, t: _dt.datetime, today: _dt.date) -> tuple[float | None, float | None]:
        local = t.astimezone(self.tz)
        weeks = [local.date() - _dt.timedelta(days=7 * k) for k in range(1, FORECAST_WEEKS + 1)]
        weeks = [d for d in weeks if d < today]
        recent = [today - _dt.timedelta(days=k) for k in range(1, FORECAST_DAYS + 1)]
        load = self._mean(weeks, local.hour, local.minute, 0) if len(
            [d for d in weeks if (d, local.hour, local.minute) in self.by_key]) >= 2 else None
        if load is None:
            load = self._mean(recent, local.hour, local.minute, 0)
        return load, self._mean(recent, local.hour, local.minute, 1)


@dataclass
class Replay:
    """Everything one backtest needs: the quarters (with history before ``start``) and config."""

    quarters: list[Quarter]
    start: _dt.datetime
    end: _dt.datetime
    config: Mapping[str, Any]
    use_rce: bool = False
    gaps: list[dict[str, str]] = field(default_factory=list)

    @property
    def tz(self) -> str:
        """The local timezone of days."""
        return self.config["coordinator"]["timezone"]

    def in_range(self) -> list[Quarter]:
        """The quarters from ``start`` to ``end``."""
        return [q for q in self.quarters if self.start <= q.start < self.end]

    def first_soc(self) -> float:
        """The battery's first stored SOC in the range."""
        for q in self.in_range():
            if q.soc_pct is not None:
                return q.soc_pct
        raise BacktestError("no stored battery SOC in the range")


def run_backtest(replay: Replay, strategies: Sequence[str], *,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Replay the range through each strategy; the JSON-ready result."""
    quarters = replay.in_range()
    if not any(q.price is not None for q in quarters):
        raise BacktestError(f"no prices stored between {replay.start.isoformat()} and {replay.end.isoformat()}")
    model = BatteryModel.from_config(replay.config)
    replay.gaps = [{"period_start": q.start.isoformat(), "why": q.gap} for q in quarters if q.gap]
    result: dict[str, Any] = {}
    for name in strategies:
        if name not in STRATEGIES:
            raise BacktestError(f"unknown strategy {name!r}; use {', '.join(STRATEGIES)}")
        if progress:
            progress(name)
        result[name] = _run_one(name, replay, model)
    return {"from": replay.start.isoformat(), "to": replay.end.isoformat(),
            "gaps": replay.gaps, "strategies": result}


def _run_one(name: str, replay: Replay, model: BatteryModel) -> dict[str, Any]:
    quarters = replay.in_range()
    battery = Battery(model, model.soc_kwh(replay.first_soc()))
    tz = zone(replay.tz)
    total, days = Totals(), {}
    policy = _policy(name, replay, model, battery)
    for i, q in enumerate(quarters):
        if q.gap:
            continue
        if name == "none":
            charge = discharge = 0.0
        else:
            charge, discharge = battery.step(q, policy(i, q))
        value = export_value(q.price, replay.use_rce)
        day = q.start.astimezone(tz).date().isoformat()
        total.add(q, charge, discharge, value)
        days.setdefault(day, Totals()).add(q, charge, discharge, value)
    out = total.to_json(model.capacity_kwh)
    out["days"] = [{"date": d, **t.to_json(model.capacity_kwh)} for d, t in sorted(days.items())]
    return out


def _policy(name: str, replay: Replay, model: BatteryModel, battery: Battery):
    """A function (index, quarter) -> grid charge power (kW) or None for self-use."""
    if name in ("none", "self"):
        return lambda i, q: None
    if name == "rules":
        return RulesPolicy(replay, battery)
    if name == "optimiser":
        return OptimiserPolicy(replay, model, battery)
    return PerfectForesight(replay, model, battery)


def _known_prices(quarters: Sequence[Quarter], now: _dt.datetime) -> list[Any]:
    """Prices published by ``now``, from the quarter before it on (``quarters`` sorted by start)."""
    first = bisect.bisect_left(quarters, now - QUARTER, key=lambda q: q.start)
    last = bisect.bisect_left(quarters, now + KNOWN_AHEAD, key=lambda q: q.start)
    return [q.price for q in quarters[first:last]
            if q.price is not None and q.known_at is not None and q.known_at <= now]


class RulesPolicy:
    """The charging rules, fed as the coordinator feeds them, with the sessions they open."""

    def __init__(self, replay: Replay, battery: Battery):
        self.replay, self.battery = replay, battery
        self.logic = HybridChargingLogic(replay.config)
        self.forecast = Forecaster(replay.quarters, replay.tz)
        self.quarters = replay.quarters
        self.sessions: list[dict[str, Any]] = []
        self.charging = False
        self.target_pct = 100.0
        self.prev: Quarter | None = None
        self.power_kw = replay.config["battery"]["max_charge_power_w"] / 1000 * \
            replay.config["charging"]["charge_power_pct"] / 100

    def __call__(self, i: int, q: Quarter) -> float | None:
        prev = self.prev or q
        self.prev = q
        reading = Telemetry(ts=q.start, battery_soc_pct=round(self.battery.soc_pct, 1),
                            pv_power_w=prev.pv_kw * 1000, house_consumption_w=prev.load_kw * 1000,
                            battery_temp_c=25.0)
        today = q.start.astimezone(zone(self.replay.tz)).date()
        todays = [s for s in self.sessions if s["day"] == today]
        last = (prev.load_kw, prev.pv_kw)

        def surplus_at(t: _dt.datetime) -> float:
            load_kw, pv_kw = self.forecast.at(t, today, last)
            return pv_kw - load_kw

        d = self.logic.decide(reading, _known_prices(self.quarters, q.start), todays, q.start, surplus_at=surplus_at)
        active = next((s for s in self.sessions if s["status"] == "active"), None)
        if d.action in (CHARGE, CONTINUE):
            if active is None:
                self.sessions.append({"status": "active", "day": today, "session_id": f"bt-{len(self.sessions)}",
                                      "start_ts": q.start, "target_soc_pct": d.target_soc_pct,
                                      "payload": {"started_ts": q.start.isoformat(),
                                                  **({"stop_price_pln_kwh": d.numbers["stop_price_pln_kwh"]}
                                                     if "stop_price_pln_kwh" in d.numbers else {})}})
            self.charging = True
            self.target_pct = d.target_soc_pct or (active or {}).get("target_soc_pct") or 100.0
        elif d.action != HOLD:
            if active is not None:
                active["status"] = "completed" if d.action == STOP else "cancelled"
                active["end_ts"] = q.start
            self.charging = False
        if not self.charging:
            return None
        # The inverter charges toward the session's target SOC and stops there.
        m = self.battery.model
        to_target_kw = max(m.soc_kwh(self.target_pct) - self.battery.soc_kwh, 0.0) / (m.charge_efficiency * DT_H)
        return min(self.power_kw, to_target_kw)


class OptimiserPolicy:
    """Re-plans each quarter over the known horizon with forecasts from earlier days."""

    def __init__(self, replay: Replay, model: BatteryModel, battery: Battery):
        self.replay, self.model, self.battery = replay, model, battery
        self.forecast = Forecaster(replay.quarters, replay.tz)
        self.prev: Quarter | None = None
        self.use_rce = replay.use_rce
        self.sells = bool(replay.config["selling"]["enabled"])

    def __call__(self, i: int, q: Quarter) -> float | None:
        prev = self.prev or q
        self.prev = q
        today = q.start.astimezone(zone(self.replay.tz)).date()
        horizon = [p for p in _known_prices(self.replay.quarters, q.start) if p.period_start >= q.start]
        if not horizon:
            return None
        last = (prev.load_kw, prev.pv_kw)
        fc = [last] + [self.forecast.at(p.period_start, today, last) for p in horizon[1:]]
        sell = [export_value(p, self.use_rce) if self.sells else 0.0 for p in horizon]
        try:
            plan = solve([f[0] for f in fc], [f[1] for f in fc], [p.final_pln_kwh for p in horizon],
                         sell, self.battery.soc_pct, self.model)
        except OptimiserError:
            return None  # the coordinator would fall back to the rules' self-use here too
        return float(plan.charge_kw[0]) if plan.action(0) == "charge" else None


class PerfectForesight:
    """The programme solved once over the whole range with the actual load and PV."""

    def __init__(self, replay: Replay, model: BatteryModel, battery: Battery):
        qs = [q for q in replay.in_range() if not q.gap]
        self.index = {q.start: k for k, q in enumerate(qs)}
        plan = solve([q.load_kw for q in qs], [q.pv_kw for q in qs], [q.price.final_pln_kwh for q in qs],
                     [export_value(q.price, replay.use_rce) for q in qs], battery.soc_pct, model,
                     time_limit_s=60.0)
        self.charge, self.discharge = plan.charge_kw, plan.discharge_kw

    def __call__(self, i: int, q: Quarter) -> float | None:
        k = self.index[q.start]
        return _Exact(self.charge[k], self.discharge[k])


@dataclass(frozen=True)
class _Exact:
    """A planned (charge, discharge) pair applied as is (perfect foresight only)."""

    charge_kw: float
    discharge_kw: float


def local_day_range(first: _dt.date, last: _dt.date, tz: str) -> tuple[_dt.datetime, _dt.datetime]:
    """UTC bounds of local days ``first`` .. ``last`` inclusive."""
    if last < first:
        raise BacktestError(f"--to {last} is before --from {first}")
    return local_midnight_utc(first, tz), local_midnight_utc(last + _dt.timedelta(days=1), tz)
