"""The optimiser strategy in the running coordinator: safety first, the plan stored, fallbacks."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.model import PriceQuarter, Telemetry
from gdpo.coordinator.strategy import OptimiserStrategy, make_strategy
from gdpo.storage import open_storage
from tests.coordinator.test_e2e import simulated_night, sqlite_storage

UTC = _dt.timezone.utc
NOW = _dt.datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 17:00 local: the evening peak


def evening(now=NOW, n=32):
    """An expensive evening, then a cheap night."""
    return [PriceQuarter(now + _dt.timedelta(minutes=15 * k), 0.8 if k < 16 else 0.2,
                         1.3 if k < 16 else 0.5) for k in range(n)]


def reading(soc, load_w=1500.0):
    return Telemetry(ts=NOW, battery_soc_pct=soc, battery_temp_c=20.0, pv_power_w=0.0,
                     house_consumption_w=load_w, grid_power_w=load_w, battery_power_w=0.0)


def test_default_is_the_optimiser_and_rules_can_be_chosen():
    assert isinstance(make_strategy(rule_config()), OptimiserStrategy)
    assert not isinstance(make_strategy(rule_config({"coordinator": {"strategy": "rules"}})), OptimiserStrategy)


def test_never_grid_charges_at_the_peak_and_plans_the_night():
    d = make_strategy(rule_config()).decide(reading(40.0), evening(), [], NOW)
    assert d.rule == "optimiser" and d.action == "wait"
    plan = d.numbers["plan"]
    assert len(plan) == 32 and plan[0]["price_pln_kwh"] == 1.3
    assert all(r["action"] != "charge" for r in plan[:16])
    assert plan[15]["soc_pct"] < 40.0  # the battery serves the evening


def test_safety_rules_stand_over_the_plan():
    d = make_strategy(rule_config()).decide(reading(3.0), evening(), [], NOW)
    assert d.rule == "emergency" and d.action == "charge"


def test_a_plan_that_cannot_be_solved_falls_back_to_the_rules_with_the_reason():
    cfg = rule_config({"optimiser": {"grid_import_limit_w": 100.0, "max_discharge_power_w": 100.0}})
    d = make_strategy(cfg).decide(reading(40.0, load_w=9000.0), evening(), [], NOW)
    assert d.rule != "optimiser" and "nfeasible" in d.numbers["optimiser_fallback"]


async def test_simulated_night_with_the_optimiser_charges_in_the_cheap_hours(tmp_path: Path):
    cfg, summary, lines, *_ = await simulated_night(tmp_path, sqlite_storage(tmp_path), speed=900, hours=6,
                                                    strategy="optimiser")
    async with open_storage(cfg) as storage:
        decisions = await storage.read("coordinator_decisions", summary.start, summary.end + _dt.timedelta(minutes=10))
        sessions = await storage.read("charging_sessions", summary.start, summary.end + _dt.timedelta(minutes=10))
    planned = [d for d in decisions if d.payload["rule"] == "optimiser"]
    assert len(planned) >= 20
    assert all(d.payload["numbers"]["plan"] for d in planned)
    charges = [d for d in planned if d.action == "charge"]
    assert charges, [d.reason for d in planned]
    prices = sorted(d.price_pln_kwh for d in planned)
    assert max(d.price_pln_kwh for d in charges) <= prices[len(prices) // 2]  # charged in the cheaper half
    assert any(s.status in ("active", "completed", "cancelled") and s.origin == "decision" for s in sessions)


async def test_the_rules_strategy_counts_the_sun_from_stored_history(tmp_path: Path):
    # A week of sunny summer history: at midnight the rules charge only for the night, not to 85 %.
    from gdpo.coordinator import synthetic_history
    from gdpo.coordinator.logic import HybridChargingLogic
    from gdpo.coordinator.strategy import RulesStrategy
    from gdpo.storage.aggregate import zone

    tz = zone("Europe/Warsaw")
    midnight = _dt.datetime(2026, 6, 17, tzinfo=tz).astimezone(UTC)
    async with open_storage(sqlite_storage(tmp_path)) as storage:
        await synthetic_history.store(storage, _dt.date(2026, 6, 10), 7, "summer", every_min=15)
        strategy = make_strategy(rule_config({"coordinator": {"strategy": "rules"}}))
        assert isinstance(strategy, RulesStrategy)
        await strategy.prepare(storage, midnight)
    prices = [PriceQuarter(midnight + _dt.timedelta(minutes=15 * k), 0.1, 0.45 if k < 28 else 1.1)
              for k in range(96)]
    night = Telemetry(ts=midnight, battery_soc_pct=30.0, battery_temp_c=20.0, pv_power_w=0.0,
                      house_consumption_w=400.0, grid_power_w=400.0, battery_power_w=0.0)
    d = strategy.decide(night, prices, [], midnight)
    assert d.action == "charge" and d.target_soc_pct < 60, d.reason
    assert d.numbers["rule_target_soc_pct"] == 85
    blind = HybridChargingLogic(rule_config()).decide(night, prices, [], midnight)
    assert blind.target_soc_pct == 85  # the rules without the forecast
