"""Decision strategies of the running coordinator: ``rules`` (the charging rules alone) and
``optimiser`` (``coordinator.strategy``, the default: the backtest shows it cheaper).

The optimiser strategy keeps the rules' safety first: when the rules answer from a guard
(unknown inputs, the battery temperature, emergency or critical SOC) that answer stands.
Otherwise it plans the whole known horizon (:mod:`gdpo.coordinator.optimiser`) with a PV
forecast (:class:`~gdpo.coordinator.pv_forecast.PVForecaster`) and a load forecast from
stored history (:class:`~gdpo.coordinator.backtest.Forecaster`: the same weekday and quarter
over recent weeks), and acts on the plan's first quarter: a grid charge toward the SOC the
plan reaches at the end of its charging run, or self-use. A solve that fails or times out
falls back to the rules, with the reason in the decision. The plan, per quarter, is stored
in the decision (``payload.numbers.plan``) and shown by ``gdpo plan``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
from typing import Any, Callable, Mapping, Sequence

from gdpo.coordinator.backtest import Forecaster, Quarter, export_value
from gdpo.coordinator.logic import HybridChargingLogic
from gdpo.coordinator.model import CHARGE, CONTINUE, STOP, WAIT, Decision, Telemetry, quarter_start
from gdpo.coordinator.optimiser import BatteryModel, OptimiserError, solve
from gdpo.storage.aggregate import zone

log = logging.getLogger(__name__)

SAFETY_RULES = ("no_data", "battery_guard", "emergency", "critical")


def make_strategy(config: Mapping[str, Any]):
    """The strategy ``coordinator.strategy`` names."""
    logic = HybridChargingLogic(config)
    if logic.config["coordinator"]["strategy"] == "rules":
        return RulesStrategy(logic)
    return OptimiserStrategy(logic)


class HistoryForecast:
    """Load and PV per quarter from stored history (rebuilt once per local day)."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = config
        self.tz = config["coordinator"]["timezone"]
        self.forecaster: Forecaster | None = None
        self.day: _dt.date | None = None

    async def prepare(self, storage, now: _dt.datetime) -> None:
        """Read the quarters of the last ``optimiser.load_history_days`` once per local day."""
        today = now.astimezone(zone(self.tz)).date()
        if self.day == today:
            return
        days = self.config["optimiser"]["load_history_days"]
        start = quarter_start(now) - _dt.timedelta(days=days)
        rows = await storage.aggregate("energy_data", start, now, every="15m", tz=self.tz,
                                       fields={"house_consumption_w": "avg", "pv_power_w": "avg"})
        quarters = [Quarter(_bucket(r), _kw(r, "house_consumption_w"), _kw(r, "pv_power_w"), None, None, None)
                    for r in rows]
        self.forecaster = Forecaster(quarters, self.tz)
        self.day = today

    def at(self, t: _dt.datetime, now: _dt.datetime, last: tuple[float, float],
           pv_at: Callable[[_dt.datetime], float | None] | None = None) -> tuple[float, float]:
        """(load_kw, pv_kw) for quarter ``t``: history for the load, the PV forecaster's power
        when it has one (``pv_at``, W), else PV history; ``last`` when there is no history."""
        today = now.astimezone(zone(self.tz)).date()
        f = self.forecaster.at(t, today, last) if self.forecaster else last
        measured_pv = pv_at(t) if pv_at else None
        return f[0], (f[1] if measured_pv is None else measured_pv / 1000)

    def surplus_at(self, telemetry: Telemetry | None, now: _dt.datetime,
                   pv_at: Callable[[_dt.datetime], float | None] | None = None):
        """A function quarter start -> forecast PV surplus (PV - load), kW, for the rules."""
        last = _last(telemetry)

        def surplus(t: _dt.datetime) -> float:
            load_kw, pv_kw = self.at(t, now, last, pv_at)
            return pv_kw - load_kw

        return surplus


def _last(telemetry: Telemetry | None) -> tuple[float, float]:
    """(load_kw, pv_kw) of the latest reading (500 W and no PV when unknown)."""
    if telemetry is None:
        return 0.5, 0.0
    return _or(telemetry.house_consumption_w, 500.0) / 1000, _or(telemetry.pv_power_w, 0.0) / 1000


class RulesStrategy:
    """The charging rules alone, with the PV surplus forecast from history."""

    def __init__(self, rules: HybridChargingLogic):
        self.rules = rules
        self.config = rules.config
        self.forecast = HistoryForecast(self.config)

    async def prepare(self, storage, now: _dt.datetime) -> None:
        """Build the load and PV forecast (once per local day)."""
        await self.forecast.prepare(storage, now)

    def decide(self, telemetry: Telemetry | None, prices: Sequence[Any], sessions: Sequence[Any],
               now: _dt.datetime, *, pv_forecast_w: float | None = None,
               pv_at: Callable[[_dt.datetime], float | None] | None = None) -> Decision:
        """Decide for the quarter holding ``now``."""
        return self.rules.decide(telemetry, prices, sessions, now, pv_forecast_w=pv_forecast_w,
                                 surplus_at=self.forecast.surplus_at(telemetry, now, pv_at))


class OptimiserStrategy(RulesStrategy):
    """Plans with the optimiser; the rules guard and stand in when it cannot answer."""

    def __init__(self, rules: HybridChargingLogic):
        super().__init__(rules)
        self.model = BatteryModel.from_config(self.config)

    def decide(self, telemetry: Telemetry | None, prices: Sequence[Any], sessions: Sequence[Any],
               now: _dt.datetime, *, pv_forecast_w: float | None = None,
               pv_at: Callable[[_dt.datetime], float | None] | None = None) -> Decision:
        """Decide for the quarter holding ``now``: the rules' guard, else the plan's first quarter."""
        ruled = super().decide(telemetry, prices, sessions, now, pv_forecast_w=pv_forecast_w, pv_at=pv_at)
        if ruled.rule in SAFETY_RULES or telemetry is None or telemetry.battery_soc_pct is None:
            return ruled
        first = quarter_start(now)
        horizon = sorted((q for q in prices if q.period_start >= first), key=lambda q: q.period_start)
        if not horizon:
            return ruled
        last = _last(telemetry)
        load, pv = [last[0]], [last[1]]
        for q in horizon[1:]:
            f = self.forecast.at(q.period_start, now, last, pv_at)
            load.append(f[0])
            pv.append(f[1])
        sells = self.config["selling"]["enabled"]
        o = self.config["optimiser"]
        try:
            plan = solve(load, pv, [q.final_pln_kwh for q in horizon],
                         [export_value(q, True) if sells else 0.0 for q in horizon],
                         telemetry.battery_soc_pct, self.model, time_limit_s=o["time_limit_s"],
                         mip_gap=o["mip_gap_pct"] / 100)
        except OptimiserError as exc:
            log.warning("%s; the rules decide", exc)
            return dataclasses.replace(ruled, numbers={**ruled.numbers, "optimiser_fallback": str(exc)})
        return self._act(plan, horizon, ruled, telemetry, sessions)

    def _act(self, plan, horizon, ruled: Decision, telemetry: Telemetry, sessions) -> Decision:
        soc = telemetry.battery_soc_pct
        rows = plan_rows(plan, horizon, self.model)
        active = any((s.get("status") if isinstance(s, dict) else s.status) == "active" for s in sessions)
        numbers = {"plan": rows, "solve_ms": round(plan.solve_ms, 1), "plan_cost_pln": round(plan.objective_pln, 4),
                   "rules_said": f"{ruled.action} ({ruled.rule})"}
        q = horizon[0]
        if plan.action(0) == "charge":
            run_end = 0
            while run_end + 1 < len(rows) and rows[run_end + 1]["action"] == "charge":
                run_end += 1
            target = min(self.model.max_soc_pct, round(rows[run_end]["soc_pct"]))
            action = CONTINUE if active else CHARGE
            reason = (f"plan: grid charge now at {q.final_pln_kwh:.3f} PLN/kWh toward {target:g} % "
                      f"({run_end + 1} quarter(s)), cheaper than the quarters it replaces")
            return Decision(ts=ruled.ts, action=action, rule="optimiser", reason=reason, target_soc_pct=target,
                            battery_soc_pct=soc, price_pln_kwh=q.final_pln_kwh, market_price_pln_kwh=q.market_pln_kwh,
                            energy_kwh=round(sum(r["grid_charge_kw"] for r in rows[:run_end + 1]) * 0.25, 3),
                            numbers=numbers)
        nxt = next((r for r in rows if r["action"] == "charge"), None)
        when = f"; next grid charge {nxt['period_start']}" if nxt else "; no grid charge in the plan"
        return Decision(ts=ruled.ts, action=STOP if active else WAIT, rule="optimiser",
                        reason=f"plan: self-use now at {q.final_pln_kwh:.3f} PLN/kWh{when}",
                        battery_soc_pct=soc, price_pln_kwh=q.final_pln_kwh, market_price_pln_kwh=q.market_pln_kwh,
                        numbers=numbers)


def plan_rows(plan, horizon: Sequence[Any], model: BatteryModel) -> list[dict[str, Any]]:
    """The plan per quarter: start (ISO), action, powers (kW), expected SOC (%), price."""
    return [{"period_start": q.period_start.isoformat(), "action": plan.action(t),
             "grid_charge_kw": round(float(plan.grid_charge_kw[t]), 3),
             "charge_kw": round(float(plan.charge_kw[t]), 3), "discharge_kw": round(float(plan.discharge_kw[t]), 3),
             "soc_pct": round(float(plan.soc_kwh[t]) / model.capacity_kwh * 100, 1),
             "price_pln_kwh": round(q.final_pln_kwh, 4)}
            for t, q in enumerate(horizon)]


def _bucket(row: Mapping[str, Any]) -> _dt.datetime:
    return row["bucket"]


def _kw(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    return None if value is None else float(value) / 1000


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
