"""The optimiser's linear programme: hand-solved cases, limits on random days, fallbacks."""

from __future__ import annotations

import random

import numpy as np
import pytest

from gdpo.coordinator.optimiser import BatteryModel, OptimiserError, needs_binaries, solve

IDEAL = BatteryModel(capacity_kwh=10, min_soc_pct=10, max_soc_pct=100, charge_power_kw=4, discharge_power_kw=4,
                     charge_efficiency=1.0, discharge_efficiency=1.0, cycle_cost_pln_kwh=0.0)


def energy_cost(plan) -> float:
    """PLN of imports minus exports of the plan (no terminal value)."""
    return float(0.25 * (plan.buy_pln_kwh @ plan.import_kw - plan.sell_pln_kwh @ plan.export_kw))


def test_two_quarters_charge_cheap_use_dear():
    # load 4 kW twice; 0.5 then 1.5 PLN/kWh: charge 1 kWh in the first, discharge it in the second
    plan = solve([4, 4], [0, 0], [0.5, 1.5], [0, 0], 10, IDEAL)
    assert plan.charge_kw[0] == pytest.approx(4.0)
    assert plan.discharge_kw[1] == pytest.approx(4.0)
    assert plan.import_kw.tolist() == pytest.approx([8.0, 0.0])
    assert energy_cost(plan) == pytest.approx(1.0)
    assert plan.action(0) == "charge" and plan.action(1) == "discharge"


def test_losses_make_a_small_spread_not_worth_it():
    # 0.9 * 0.9 round trip: buying at 1.0 to avoid 1.2 loses (1.0 / 0.81 = 1.23 > 1.2)
    lossy = BatteryModel(capacity_kwh=10, min_soc_pct=10, charge_power_kw=4, discharge_power_kw=4,
                         charge_efficiency=0.9, discharge_efficiency=0.9, cycle_cost_pln_kwh=0.0)
    plan = solve([2, 2, 2], [0, 0, 0], [1.0, 1.2, 1.0], [0, 0, 0], 10, lossy)
    assert plan.charge_kw.sum() == pytest.approx(0.0, abs=1e-6)
    # at 0.7 it pays (0.7 / 0.81 = 0.864 < 1.0 < 1.2): a full-power quarter, the dearest quarter first
    plan = solve([2, 2, 2], [0, 0, 0], [0.7, 1.2, 1.0], [0, 0, 0], 10, lossy)
    assert plan.charge_kw[0] == pytest.approx(4.0)
    assert plan.discharge_kw[1] == pytest.approx(2.0)
    assert 0.25 * plan.discharge_kw[1:].sum() == pytest.approx(0.25 * 4.0 * 0.81)


def test_cycle_cost_stops_marginal_cycles():
    worn = BatteryModel(**{**IDEAL.__dict__, "cycle_cost_pln_kwh": 0.3})
    assert solve([2, 2], [0, 0], [1.0, 1.2], [0, 0], 10, worn).charge_kw.sum() == pytest.approx(0.0, abs=1e-6)
    assert solve([2, 2], [0, 0], [0.8, 1.2], [0, 0], 10, worn).charge_kw[0] > 1.9


def test_pv_surplus_fills_the_battery_before_export_is_worth_nothing():
    # surplus 3 kW at no export value, then 3 kW load at 1.0: store it all
    plan = solve([1, 3], [4, 0], [0.6, 1.0], [0.0, 0.0], 10, IDEAL)
    assert plan.charge_kw[0] == pytest.approx(3.0)
    assert plan.grid_charge_kw[0] == pytest.approx(0.0)
    assert plan.export_kw.sum() == pytest.approx(0.0, abs=1e-6)


def test_negative_price_uses_binaries_and_never_charges_and_discharges_at_once():
    buy = [-0.2, -0.1, 0.9, 1.1]
    assert needs_binaries(buy, [0, 0, 0.5, 0.5])
    plan = solve([0.5] * 4, [3, 3, 0, 0], buy, [0, 0, 0.5, 0.5], 50, IDEAL)
    assert plan.binaries
    assert np.all(np.minimum(plan.charge_kw, plan.discharge_kw) < 1e-6)
    assert np.all(np.minimum(plan.import_kw, plan.export_kw) < 1e-6)
    assert plan.charge_kw[:2].sum() > 0  # paid to import: the battery takes it


def test_negative_export_values_count_as_zero():
    plan = solve([0, 0], [4, 4], [0.5, 0.5], [-1.0, -1.0], 100, IDEAL)
    assert plan.sell_pln_kwh.tolist() == [0.0, 0.0]


def test_start_below_reserve_is_allowed_but_never_discharged_further():
    plan = solve([2, 2], [0, 0], [1.0, 1.0], [0, 0], 5, IDEAL)
    assert plan.soc_kwh.min() >= 0.5 - 1e-6  # 5 %: below the 10 % reserve, never lower than the start


def test_infeasible_raises_naming_the_status():
    with pytest.raises(OptimiserError, match="[Ii]nfeasible"):
        solve([30, 30], [0, 0], [1, 1], [0, 0], 10, IDEAL)


def test_unequal_inputs_are_refused():
    with pytest.raises(OptimiserError, match="unequal"):
        solve([1, 1], [0], [1, 1], [0, 0], 10, IDEAL)


@pytest.mark.parametrize("seed", range(8))
def test_random_days_keep_every_limit_and_balance(seed):
    rng = random.Random(seed)
    n = rng.choice([92, 96, 100, 192])
    load = [rng.uniform(0.2, 3.0) for _ in range(n)]
    pv = [max(0.0, rng.uniform(-2, 6)) for _ in range(n)]
    buy = [rng.uniform(-0.3 if seed % 2 else 0.2, 1.6) for _ in range(n)]
    sell = [b * rng.uniform(0.3, 0.9) for b in buy]
    m = BatteryModel(capacity_kwh=10, min_soc_pct=10, max_soc_pct=95, charge_power_kw=5, discharge_power_kw=4,
                     charge_efficiency=0.95, discharge_efficiency=0.93, cycle_cost_pln_kwh=0.05)
    start = rng.uniform(10, 95)
    p = solve(load, pv, buy, sell, start, m)
    eps = 1e-6
    assert p.soc_kwh.min() >= 1.0 - eps and p.soc_kwh.max() <= 9.5 + eps
    assert p.charge_kw.max() <= 5 + eps and p.discharge_kw.max() <= 4 + eps
    assert p.import_kw.max() <= m.import_limit_kw + eps and p.export_kw.max() <= m.export_limit_kw + eps
    np.testing.assert_allclose(p.import_kw - p.export_kw, np.array(load) - np.array(pv) + p.charge_kw - p.discharge_kw,
                               atol=1e-6)
    soc = start / 100 * 10
    for t in range(n):
        soc += 0.25 * (0.95 * p.charge_kw[t] - p.discharge_kw[t] / 0.93)
        assert p.soc_kwh[t] == pytest.approx(soc, abs=1e-5)
