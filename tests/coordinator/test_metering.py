"""Metering against the simulator through the goodwe library: readings aligned to the minute,
and a simulated day whose daily stats and sessions reconcile to the cent with the stored
readings and prices (expectations computed from what was stored, whatever the simulator's
losses)."""

from __future__ import annotations

import datetime as _dt

import pytest

from gdpo.coordinator.clock import SimulatedClock
from gdpo.coordinator.collector import EnhancedDataCollector
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.master import MasterCoordinator
from gdpo.coordinator.metering import counter_delta
from gdpo.coordinator.model import QUARTER, PriceBasis
from gdpo.inverter.gateway import InverterGateway
from gdpo.inverter.simulator import start_simulator
from gdpo.prices import MarketDay, MarketQuarter, PriceService, sample_day
from gdpo.prices.store import save_day
from gdpo.storage import open_storage
from tests.coordinator.helpers import SIM_T0, WARSAW

MINUTE = _dt.timedelta(minutes=1)
NO_PSE = {"prices": {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0}}
RULES = rule_config({"coordinator": {"strategy": "rules"}})


def next_minute(t: _dt.datetime) -> _dt.datetime:
    """The first minute boundary after ``t``."""
    return t.replace(second=0, microsecond=0) + MINUTE


async def test_readings_are_stamped_with_the_minute_they_were_taken_at(sim, storage):
    sim.device.advance(37.0)                     # 01:00:37: off the boundary
    gateway = InverterGateway("127.0.0.1", sim.port, now=sim.device.clock.now)
    await gateway.connect()
    collector = EnhancedDataCollector(storage, gateway, now=sim.device.clock.now)
    off = await collector.collect_once()
    assert off.ts.second == 37 and "read_at" not in off.payload      # far from a boundary: its real time
    sim.device.advance((next_minute(sim.device.clock.now()) - sim.device.clock.now()).total_seconds())
    on = await collector.collect_once()
    assert on.ts == SIM_T0 + MINUTE                                   # read at the minute start: stamped with it
    assert _dt.datetime.fromisoformat(on.payload["read_at"]) >= on.ts
    again = await collector.collect_once()                            # the same minute again: not a second 01:01:00
    assert again.ts > on.ts
    assert [r.ts for r in await storage.read("energy_data", SIM_T0, SIM_T0 + 2 * MINUTE)] == [off.ts, on.ts, again.ts]


async def test_the_collector_loop_sleeps_to_the_next_minute_boundary(storage):
    start = SIM_T0 + _dt.timedelta(seconds=40)
    server = await start_simulator("127.0.0.1", 0, speed=30.0, seed=3, start=start)   # a minute in 2 s
    try:
        clock = SimulatedClock(now_fn=server.device.clock.now, speed=30.0)
        gateway = InverterGateway("127.0.0.1", server.port, now=clock.now)
        await gateway.connect()
        collector = EnhancedDataCollector(storage, gateway, clock=clock)
        await collector.run(iterations=3)
    finally:
        await server.stop()
    stamps = [r.ts for r in await storage.read("energy_data", SIM_T0, SIM_T0 + 3 * MINUTE)]
    assert len(stamps) == 3 and stamps[0] >= start
    assert stamps[1:] == [SIM_T0 + MINUTE, SIM_T0 + 2 * MINUTE]


async def test_the_coordinator_reads_at_each_minute_start(sim, storage):
    clock = SimulatedClock(now_fn=sim.device.clock.now)
    gateway = InverterGateway("127.0.0.1", sim.port, now=clock.now)
    async with PriceService(storage, NO_PSE) as prices:
        coord = MasterCoordinator(storage, gateway, None, prices, RULES, clock=clock)
        coord.collector = EnhancedDataCollector(storage, gateway, now=clock.now)
        late = SIM_T0 + _dt.timedelta(seconds=23)
        assert await coord._fire("telemetry", late, late) == SIM_T0 + MINUTE
        assert await coord._fire("telemetry", SIM_T0 + MINUTE, SIM_T0 + MINUTE) == SIM_T0 + 2 * MINUTE


def market_day(day: _dt.date) -> MarketDay:
    """The sample day's shape as a real (non-sample) market day."""
    sample = sample_day(day)
    return MarketDay(day, sample.source, tuple(MarketQuarter(q.period_start, q.price_pln_kwh)
                                               for q in sample.quarters), origin="pse")


def trapezoid_kwh(a, b, name: str) -> float:
    """A power field between two stored readings, integrated, kWh."""
    return (getattr(a, name) + getattr(b, name)) / 2 * (b.ts - a.ts).total_seconds() / 3_600_000


async def run_day(storage, sim, day: _dt.date, until: _dt.datetime) -> MasterCoordinator:
    """Drive the coordinator minute by minute, as its timers do, from the simulator's start
    to ``until``: a reading at each minute start, a decision at each quarter start."""
    await save_day(storage, market_day(day), SIM_T0)
    clock = SimulatedClock(now_fn=sim.device.clock.now)
    gateway = InverterGateway("127.0.0.1", sim.port, now=clock.now)
    await gateway.connect()
    prices = PriceService(storage, NO_PSE)
    coord = MasterCoordinator(storage, gateway, None, prices, RULES, clock=clock)
    coord.collector = EnhancedDataCollector(storage, gateway, now=clock.now, price_source=coord.price_for)
    coord.fetch_prices = False
    coord.started_at = clock.now()
    await coord.sessions.load(clock.now())
    boundary = SIM_T0
    while boundary <= until:
        await coord.telemetry_tick(clock.now())
        if boundary.minute % 15 == 0:
            await coord.decision_tick(boundary)
        boundary += MINUTE
        sim.device.advance(max(0.0, (boundary - clock.now()).total_seconds()))
    await coord.sessions.finish("cancelled", coord.reading, until, "test day over")
    return coord


async def test_a_simulated_day_reconciles_to_the_cent(tmp_path, sim):
    tz = "Europe/Warsaw"
    day = SIM_T0.astimezone(WARSAW).date()
    midnight = _dt.datetime.combine(day + _dt.timedelta(days=1), _dt.time(), WARSAW).astimezone(_dt.timezone.utc)
    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")}}) as storage:
        coord = await run_day(storage, sim, day, midnight)
        stats = await coord.write_daily_stats(day)
        readings = await storage.read("energy_data", SIM_T0, midnight + MINUTE)
        sessions = [s for s in await storage.read("charging_sessions", SIM_T0, midnight)
                    if s.status in ("completed", "cancelled") and s.actual_energy_kwh is not None]
        day_prices = await coord.prices.prices_between(SIM_T0, midnight)
        await coord.prices.aclose()

    # every reading at a minute start, stamped with it
    assert all(r.ts.second == 0 and r.ts.microsecond == 0 for r in readings)
    at = {r.ts: r for r in readings}
    assert SIM_T0 in at and midnight in at
    final = {q.period_start: q.final_pln_kwh for q in day_prices}
    basis = PriceBasis.of(coord.prices)
    value = {q.period_start: max(q.export_pln_kwh if basis.use_rce and q.export_pln_kwh is not None
                                 else q.market_pln_kwh, 0.0) for q in day_prices}

    # daily stats: each quarter's meter import (export) between the readings at its start and end
    quarters = [q for q in sorted(final) if SIM_T0 <= q < midnight]
    imports = {q: at[q + QUARTER].grid_import_total_kwh - at[q].grid_import_total_kwh for q in quarters}
    exports = {q: at[q + QUARTER].grid_export_total_kwh - at[q].grid_export_total_kwh for q in quarters}
    assert round(stats.total_grid_import_kwh, 3) == round(sum(imports.values()), 3) > 0
    assert round(stats.total_grid_export_kwh, 3) == round(sum(exports.values()), 3)
    assert round(stats.payload["import_cost_pln"], 2) == round(sum(imports[q] * final[q] for q in quarters), 2)
    assert round(stats.payload["export_value_pln"], 2) == round(sum(exports[q] * value[q] for q in quarters), 2)

    # sessions: energy and cost on the AC side, each quarter at its own price
    assert sessions, "the night's cheap quarters must charge"
    for s in sessions:
        measured = s.payload["quarters_measured"]
        assert {q["measured_by"] for q in measured} == {"meter"}
        assert round(sum(q["energy_kwh"] * final[_dt.datetime.fromisoformat(q["period_start"])]
                         for q in measured), 2) == round(s.cost_pln, 2)
        assert round(sum(q["energy_kwh"] for q in measured), 3) == round(s.actual_energy_kwh, 3)
        # from the stored readings: the meter's import less the house's AC load, minute by minute
        inside = [r for r in readings if s.start_ts <= r.ts <= s.end_ts]
        expected = 0.0
        for a, b in zip(inside, inside[1:]):
            imported = counter_delta(a.grid_import_total_kwh, b.grid_import_total_kwh)
            expected += min(max(imported - trapezoid_kwh(a, b, "house_consumption_w"), 0.0), imported)
        assert round(s.actual_energy_kwh, 3) == round(expected, 3) > 0.5
        check = s.payload["metering"]
        assert check["meter_agrees"] is True
        # the battery's DC counter sees the energy after the inverter's losses (none, or some)
        assert check["battery_dc_kwh"] <= s.actual_energy_kwh * 1.02 + 0.1   # its steps are 0.1 kWh
    assert round(stats.grid_charge_kwh, 3) == round(sum(s.actual_energy_kwh for s in sessions), 3)
    assert round(stats.grid_charge_cost_pln, 2) == round(sum(s.cost_pln for s in sessions), 2)
