"""The daily plan (pure), session records through storage, and measured energy and cost."""

from __future__ import annotations

import datetime as _dt

import pytest

from tests.coordinator.helpers import flat_day, local, quarters
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.metering import SessionMeter, counter_delta
from gdpo.coordinator.model import Decision, Telemetry
from gdpo.coordinator.sessions import MultiSessionManager, plan_sessions

DAY = local(2026, 3, 10)
CFG = rule_config()  # 10 kWh, 5 kW x 0.95: 1.1875 kWh per quarter




def test_plan_picks_cheapest_quarters_of_known_horizon():
    # SOC 20 -> 95: 7.5 kWh, 7 quarters. Cheapest: 02:00-03:45 (8 quarters at 0.3/0.31).
    prices = flat_day(DAY, 0.9, cheap={8 + i: 0.3 + 0.01 * (i % 2) for i in range(8)})
    runs = plan_sessions(prices, 20.0, DAY, CFG)
    assert len(runs) == 1
    picked = [q.period_start for q in runs[0].quarters]
    assert len(picked) == 7
    assert all(DAY + _dt.timedelta(hours=2) <= t < DAY + _dt.timedelta(hours=4) for t in picked)


def test_plan_at_most_3_sessions_30_min_apart():
    # Seven isolated cheap quarters scattered over the day: merged into <= 3 sessions.
    cheap = {i: 0.2 for i in (4, 6, 20, 40, 42, 60, 80)}
    runs = plan_sessions(flat_day(DAY, 0.9, cheap=cheap), 20.0, DAY, CFG)
    assert len(runs) <= 3
    for a, b in zip(runs, runs[1:]):
        assert b.start - a.end >= _dt.timedelta(minutes=30)
    planned = {q.period_start for r in runs for q in r.quarters}
    assert {DAY + _dt.timedelta(minutes=15 * i) for i in cheap} <= planned


def test_plan_looks_across_midnight():
    now = DAY + _dt.timedelta(hours=20)
    prices = flat_day(DAY, 0.9) + flat_day(DAY + _dt.timedelta(days=1), 0.9, cheap={i: 0.2 for i in range(8, 16)})
    runs = plan_sessions(prices, 50.0, now, CFG)
    assert runs and all(r.start >= DAY + _dt.timedelta(days=1) for r in runs)


def test_plan_nothing_needed_when_full():
    assert plan_sessions(flat_day(DAY, 0.5), 96.0, DAY, CFG) == []


def test_counter_delta_handles_reset_and_unknown():
    assert counter_delta(10.0, 10.5) == pytest.approx(0.5)
    assert counter_delta(5.0, 0.2) == 0.2  # a day counter reset at midnight
    assert counter_delta(None, 3.0) is None


def _reading(t, imp, bat, soc=50.0, load_w=400.0, grid_w=None):
    return Telemetry(ts=t, battery_soc_pct=soc, grid_import_total_kwh=imp, battery_charge_kwh=bat,
                     house_consumption_w=load_w, grid_power_w=grid_w)


def test_meter_prices_each_quarter_at_its_own_price():
    m = SessionMeter("import")
    m.observe(_reading(DAY, 100.0, 1.0), DAY, 0.5)
    m.observe(_reading(DAY + _dt.timedelta(minutes=15), 101.35, 2.2), DAY + _dt.timedelta(minutes=15), 0.7)
    m.close_quarter(_reading(DAY + _dt.timedelta(minutes=30), 102.7, 3.4))
    # each quarter: the meter imported 1.35 kWh, the house took 400 W x 0.25 h = 0.1 kWh: 1.25 kWh went
    # into the inverter (the battery's DC counter saw 1.2: the rest is the inverter's losses)
    assert [q["energy_kwh"] for q in m.to_json()] == pytest.approx([1.25, 1.25])
    assert [q["measured_by"] for q in m.to_json()] == ["meter", "meter"]
    assert m.energy_kwh == pytest.approx(2.5)
    assert m.cost_pln == pytest.approx(1.25 * 0.5 + 1.25 * 0.7)
    assert m.avg_price_pln_kwh == pytest.approx(0.6)
    assert m.cross_check()["battery_dc_kwh"] == pytest.approx(2.4)


def test_meter_is_cross_checked_with_integrated_grid_power():
    m = SessionMeter("import")
    m.observe(_reading(DAY, 100.0, 1.0, grid_w=5400.0), DAY, 0.5)
    m.close_quarter(_reading(DAY + _dt.timedelta(minutes=15), 101.35, 2.2, grid_w=5400.0))
    check = m.cross_check()
    assert check["grid_power_kwh"] == pytest.approx(1.35) and check["meter_agrees"] is True
    m.close_quarter(_reading(DAY + _dt.timedelta(minutes=30), 103.5, 3.4, grid_w=5400.0))  # 2.15 vs 1.35
    assert m.cross_check()["meter_agrees"] is False


def test_without_the_meter_the_integrated_ac_power_measures_it():
    m = SessionMeter("import")
    m.observe(_reading(DAY, None, 1.0, grid_w=5000.0), DAY, 0.5)
    m.close_quarter(_reading(DAY + _dt.timedelta(minutes=15), None, 2.1, grid_w=6000.0))
    (q,) = m.to_json()
    # (5000 + 6000) / 2 W over 0.25 h, less the 0.1 kWh of the house
    assert q["measured_by"] == "power" and q["grid_kwh"] is None
    assert q["energy_kwh"] == pytest.approx(5.5 * 0.25 - 0.1)


def test_a_reading_off_the_boundary_splits_the_interval_by_time():
    m = SessionMeter("import")
    m.observe(_reading(DAY + _dt.timedelta(minutes=14), 100.0, 0.0, load_w=0.0), DAY, 0.5)
    m.observe(_reading(DAY + _dt.timedelta(minutes=16), 100.2, 0.2, load_w=0.0), DAY + _dt.timedelta(minutes=15), 0.9)
    assert [(q["period_start"], round(q["energy_kwh"], 6)) for q in m.to_json()] == [
        (DAY.isoformat(), 0.1), ((DAY + _dt.timedelta(minutes=15)).isoformat(), 0.1)]
    assert m.cost_pln == pytest.approx(0.1 * 0.5 + 0.1 * 0.9)


async def test_manager_stores_plan_then_active_then_completed(storage):
    mgr = MultiSessionManager(storage, CFG)
    prices = flat_day(DAY, 0.9, cheap={8 + i: 0.3 for i in range(8)})
    await mgr.load(DAY)
    planned = await mgr.replan(prices, 20.0, DAY)
    assert [s.status for s in planned] == ["planned"]
    stored = await storage.read("charging_sessions", DAY, DAY + _dt.timedelta(days=1))
    assert [(s.status, s.origin) for s in stored] == [("planned", "plan")]

    t0 = DAY + _dt.timedelta(hours=2)
    q0 = prices[8]
    d = Decision(ts=t0, action="charge", rule="normal", reason="cheap", target_soc_pct=95.0, battery_soc_pct=20.0)
    await mgr.start(d, _reading(t0, 50.0, 0.0, 20.0), q0, t0)
    assert mgr.active.session_id == planned[0].session_id
    t1 = t0 + _dt.timedelta(minutes=15)
    await mgr.observe(_reading(t1, 51.4, 1.2, 32.0), prices[9])
    await mgr.checkpoint()
    t2 = t1 + _dt.timedelta(minutes=15)
    done = await mgr.finish("completed", _reading(t2, 52.8, 2.4, 44.0), t2, "target reached")
    assert done.status == "completed" and done.end_ts == t2
    assert done.actual_energy_kwh == pytest.approx(2 * (1.4 - 0.1))   # the meter's import less the house's load
    assert done.cost_pln == pytest.approx(2.6 * 0.3)
    assert done.payload["metering"]["measured_by"] == {"meter": 2}
    again = await storage.read("charging_sessions", DAY, DAY + _dt.timedelta(days=1))
    assert again[0].status == "completed"
    assert sum(q["cost_pln"] for q in again[0].payload["quarters_measured"]) == pytest.approx(again[0].cost_pln)


async def test_replan_cancels_dropped_planned_sessions(storage):
    mgr = MultiSessionManager(storage, CFG)
    first = await mgr.replan(flat_day(DAY, 0.9, cheap={80 + i: 0.3 for i in range(8)}), 20.0, DAY)
    tomorrow = flat_day(DAY + _dt.timedelta(days=1), 0.9, cheap={8 + i: 0.1 for i in range(8)})
    second = await mgr.replan(flat_day(DAY, 0.9, cheap={80 + i: 0.3 for i in range(8)}) + tomorrow, 20.0, DAY)
    assert first[0].session_id != second[0].session_id
    statuses = {s.session_id: s.status for s in await storage.read("charging_sessions", DAY, DAY + _dt.timedelta(days=3))}
    assert statuses[first[0].session_id] == "cancelled"
    assert statuses[second[0].session_id] == "planned"


async def test_load_marks_a_crashed_active_session_failed(storage):
    await storage.write("charging_sessions", {"session_id": "charge:x", "start_ts": DAY, "status": "active",
                                              "origin": "decision"})
    mgr = MultiSessionManager(storage, CFG)
    await mgr.load(DAY + _dt.timedelta(hours=1))
    (s,) = await storage.read("charging_sessions", DAY, DAY + _dt.timedelta(days=1))
    assert s.status == "failed"


def test_quarters_helper_builds_consecutive_quarters():
    qs = quarters(DAY, [1, 2, 3])
    assert [q.period_start for q in qs] == [DAY + _dt.timedelta(minutes=15 * i) for i in range(3)]
