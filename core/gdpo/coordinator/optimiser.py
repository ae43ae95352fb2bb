"""The optimiser: a linear programme over the known price horizon, solved with HiGHS.

Per quarter ``t`` (length ``dt`` hours) the variables are, all >= 0 and on the AC side:
``charge_kw`` (into the battery), ``discharge_kw`` (out of it), ``import_kw`` and
``export_kw`` at the grid meter, and ``soc_kwh`` at the end of the quarter. Constraints:

* balance: ``import - export = load - pv + charge - discharge``;
* battery: ``soc_t = soc_{t-1} + dt * (eta_c * charge - discharge / eta_d)`` within
  ``[min_soc, max_soc]`` (a start outside the band widens it to the start, never more);
* limits: charge and discharge power, the grid import limit, the export limit;
* when a price makes it pay to waste energy (a buy price below 0, or an export value above
  the buy price), binaries forbid charging while discharging and importing while exporting.

Objective, PLN: ``sum dt * (buy * import - sell * export + cycle_cost * discharge)`` minus
the value of the energy left at the end, counted at the lowest buy price of the horizon
(times ``eta_d``): a battery left full is worth what it would save at the cheapest, so the
plan neither dumps it at the horizon's end nor fills it for nothing.

The solve has a time limit and a 1 % MIP gap; an infeasible or timed-out model raises
:class:`OptimiserError` and the caller falls back to the rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import highspy
import numpy as np

GRID_CHARGE_EPS_KW = 0.05


class OptimiserError(RuntimeError):
    """The programme could not be solved (infeasible, timed out, solver error)."""


@dataclass(frozen=True)
class BatteryModel:
    """The battery and grid as the optimiser and the backtest see them."""

    capacity_kwh: float = 10.0
    min_soc_pct: float = 10.0
    max_soc_pct: float = 100.0
    charge_power_kw: float = 5.0
    discharge_power_kw: float = 5.0
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    cycle_cost_pln_kwh: float = 0.05
    import_limit_kw: float = 14.0
    export_limit_kw: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "BatteryModel":
        """The model of the ``battery`` and ``optimiser`` config sections."""
        b, o = config["battery"], config["optimiser"]
        return cls(capacity_kwh=b["capacity_kwh"], min_soc_pct=o["min_soc_pct"], max_soc_pct=o["max_soc_pct"],
                   charge_power_kw=b["max_charge_power_w"] / 1000,
                   discharge_power_kw=o["max_discharge_power_w"] / 1000,
                   charge_efficiency=b["charge_efficiency"], discharge_efficiency=o["discharge_efficiency"],
                   cycle_cost_pln_kwh=o["cycle_cost_pln_kwh"], import_limit_kw=o["grid_import_limit_w"] / 1000,
                   export_limit_kw=o["grid_export_limit_w"] / 1000)

    def soc_kwh(self, soc_pct: float) -> float:
        """State of charge in kWh."""
        return soc_pct / 100 * self.capacity_kwh


@dataclass
class Plan:
    """The solved plan, per quarter (kW, kWh at the end of the quarter, PLN/kWh)."""

    charge_kw: np.ndarray
    discharge_kw: np.ndarray
    import_kw: np.ndarray
    export_kw: np.ndarray
    soc_kwh: np.ndarray
    buy_pln_kwh: np.ndarray
    sell_pln_kwh: np.ndarray
    surplus_kw: np.ndarray
    objective_pln: float
    solve_ms: float
    binaries: bool
    status: str = "optimal"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def grid_charge_kw(self) -> np.ndarray:
        """The part of each quarter's charge that PV surplus does not cover, kW."""
        return np.maximum(self.charge_kw - self.surplus_kw, 0.0)

    def action(self, t: int) -> str:
        """``charge`` (grid charging), ``discharge`` or ``idle`` in quarter ``t``."""
        if self.grid_charge_kw[t] > GRID_CHARGE_EPS_KW:
            return "charge"
        if self.discharge_kw[t] > GRID_CHARGE_EPS_KW:
            return "discharge"
        return "idle"


def needs_binaries(buy: Sequence[float], sell: Sequence[float]) -> bool:
    """True when some quarter pays for wasting energy (buy < 0 or sell > buy)."""
    return any(b < 0 or s > b for b, s in zip(buy, sell))


def solve(load_kw: Sequence[float], pv_kw: Sequence[float], buy_pln_kwh: Sequence[float],
          sell_pln_kwh: Sequence[float], soc_start_pct: float, battery: BatteryModel, *,
          dt_h: float = 0.25, time_limit_s: float = 2.0, mip_gap: float = 0.01,
          allow_grid_charge: bool = True) -> Plan:
    """Solve the plan for the quarters given; ``sell`` values below 0 count as 0."""
    load = np.asarray(load_kw, float)
    pv = np.asarray(pv_kw, float)
    buy = np.asarray(buy_pln_kwh, float)
    sell = np.maximum(np.asarray(sell_pln_kwh, float), 0.0)
    n = len(load)
    if not (len(pv) == len(buy) == len(sell) == n) or n == 0:
        raise OptimiserError(f"inputs of unequal or zero length ({n}, {len(pv)}, {len(buy)}, {len(sell)})")
    b = battery
    s0 = b.soc_kwh(soc_start_pct)
    s_lo = min(b.soc_kwh(b.min_soc_pct), s0)
    s_hi = max(b.soc_kwh(b.max_soc_pct), s0)
    binaries = needs_binaries(buy, sell)
    surplus = np.maximum(pv - load, 0.0)
    nv = (7 if binaries else 5) * n
    C, D, I, E, S, Z, W = (k * n for k in range(7))

    cost = np.zeros(nv)
    cost[I:I + n] = dt_h * buy
    cost[E:E + n] = -dt_h * sell
    cost[D:D + n] = dt_h * b.cycle_cost_pln_kwh
    terminal = max(float(buy.min()), 0.0) * b.discharge_efficiency
    cost[S + n - 1] = -terminal
    lower = np.zeros(nv)
    upper = np.full(nv, highspy.kHighsInf)
    upper[C:C + n] = b.charge_power_kw if allow_grid_charge else np.minimum(b.charge_power_kw, surplus)
    upper[D:D + n] = b.discharge_power_kw
    upper[I:I + n] = b.import_limit_kw
    upper[E:E + n] = b.export_limit_kw
    lower[S:S + n], upper[S:S + n] = s_lo, s_hi
    if binaries:
        upper[Z:Z + 2 * n] = 1.0

    starts, idx, vals, rlo, rhi = [0], [], [], [], []

    def row(cols, coefs, lo, hi):
        idx.extend(cols)
        vals.extend(coefs)
        starts.append(len(idx))
        rlo.append(lo)
        rhi.append(hi)

    inf = highspy.kHighsInf
    for t in range(n):
        net = float(load[t] - pv[t])
        row([I + t, E + t, C + t, D + t], [1.0, -1.0, -1.0, 1.0], net, net)
        cols = [S + t, C + t, D + t] + ([S + t - 1] if t else [])
        coefs = [1.0, -dt_h * b.charge_efficiency, dt_h / b.discharge_efficiency] + ([-1.0] if t else [])
        rhs = 0.0 if t else s0
        row(cols, coefs, rhs, rhs)
        if binaries:
            row([C + t, Z + t], [1.0, -b.charge_power_kw], -inf, 0.0)
            row([D + t, Z + t], [1.0, b.discharge_power_kw], -inf, b.discharge_power_kw)
            row([I + t, W + t], [1.0, -b.import_limit_kw], -inf, 0.0)
            row([E + t, W + t], [1.0, b.export_limit_kw], -inf, b.export_limit_kw)

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nv, len(rlo)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = np.array(rlo), np.array(rhi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(idx, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(vals, float)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = nv, len(rlo)
    if binaries:
        lp.integrality_ = [highspy.HighsVarType.kContinuous] * (5 * n) + [highspy.HighsVarType.kInteger] * (2 * n)

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("threads", 1)
    started = time.perf_counter()
    h.passModel(lp)
    run_started = time.perf_counter()
    h.run()
    done = time.perf_counter()
    solve_ms, run_ms = (done - started) * 1000, (done - run_started) * 1000
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        text = h.modelStatusToString(status)
        if not (binaries and status == highspy.HighsModelStatus.kTimeLimit and h.getInfo().primal_solution_status == 2):
            raise OptimiserError(f"optimiser: {text} after {solve_ms:.0f} ms")
    x = np.asarray(h.getSolution().col_value)
    return Plan(charge_kw=x[C:C + n], discharge_kw=x[D:D + n], import_kw=x[I:I + n], export_kw=x[E:E + n],
                soc_kwh=x[S:S + n], buy_pln_kwh=buy, sell_pln_kwh=sell, surplus_kw=surplus,
                objective_pln=float(h.getInfo().objective_function_value), solve_ms=solve_ms,
                binaries=binaries, status=h.modelStatusToString(status), extra={"run_ms": run_ms})


_banner_done = False


def quiet_solver_banner() -> None:
    """HiGHS prints a banner on stdout when the first solver is made: make it once with
    stdout pointed at the null device, so ``--json`` output stays clean and a command's
    output holds only what it has to say."""
    global _banner_done
    if _banner_done:
        return
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    _banner_done = True
