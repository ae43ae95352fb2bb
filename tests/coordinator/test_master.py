"""MasterCoordinator ticks with the real price service, gateway, collector and simulator:
the plan is re-made when tomorrow's prices arrive, every decision and heartbeat is stored."""

from __future__ import annotations

import datetime as _dt
from zoneinfo import ZoneInfo

import pytest

from gdpo.coordinator.clock import SimulatedClock
from gdpo.coordinator.collector import EnhancedDataCollector
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.master import MasterCoordinator, get_state_history
from gdpo.inverter.gateway import InverterGateway
from gdpo.inverter.simulator import start_simulator
from gdpo.prices import MarketDay, MarketQuarter, PriceService, sample_day
from gdpo.prices.store import save_day

DAY = _dt.date(2026, 3, 10)
NOW = _dt.datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw")).astimezone(_dt.timezone.utc)
NO_PSE = {"prices": {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0}}

RULES = rule_config({"coordinator": {"strategy": "rules"}})  # these tests follow the rules' sessions


def market_day(day: _dt.date, factor: float = 1.0) -> MarketDay:
    """The sample day's shape as a real (non-sample) market day, prices times ``factor``."""
    sample = sample_day(day)
    return MarketDay(day, sample.source, tuple(MarketQuarter(q.period_start, q.price_pln_kwh * factor)
                                               for q in sample.quarters), origin="pse")


@pytest.fixture
async def coordinator(storage):
    server = await start_simulator("127.0.0.1", 0, speed=1.0, seed=5, start=NOW)
    clock = SimulatedClock(now_fn=server.device.clock.now)
    gateway = InverterGateway("127.0.0.1", server.port, now=clock.now)
    await gateway.connect()
    await save_day(storage, market_day(DAY), NOW)
    async with PriceService(storage, NO_PSE) as prices:
        coord = MasterCoordinator(storage, gateway, None, prices, RULES, clock=clock)
        coord.collector = EnhancedDataCollector(storage, gateway, now=clock.now, price_source=coord.price_for)
        coord.fetch_prices = False
        coord.started_at = clock.now()
        await coord.sessions.load(clock.now())
        try:
            yield coord, server
        finally:
            await server.stop()


async def test_replans_when_tomorrows_prices_arrive(coordinator, storage):
    coord, server = coordinator
    await coord.telemetry_tick(coord.clock.now())
    await coord.decision_tick(coord.clock.now())
    first = {s.session_id for s in coord.sessions.sessions.values() if s.status == "planned"}
    assert first and all(coord.sessions.sessions[i].start_ts.date() == DAY for i in first)

    await save_day(storage, market_day(DAY + _dt.timedelta(days=1), factor=0.3), NOW)  # published, and cheaper
    server.device.advance(15 * 60)
    now = coord.clock.now()
    await coord.telemetry_tick(now)
    await coord.decision_tick(now)
    planned = [s for s in coord.sessions.sessions.values() if s.status == "planned"]
    assert planned and all(s.start_ts > NOW + _dt.timedelta(hours=12) for s in planned)
    cancelled = [s for s in coord.sessions.sessions.values() if s.session_id in first]
    assert all(s.status == "cancelled" and s.payload["end_reason"] == "superseded by a new plan" for s in cancelled)

    stored = await storage.read("coordinator_decisions", NOW - _dt.timedelta(hours=1), now + _dt.timedelta(hours=1))
    assert len(stored) == 2 and all(d.payload["numbers"]["quarters_known"] > 0 for d in stored)
    assert stored[1].payload["numbers"]["horizon_end"] > (NOW + _dt.timedelta(hours=24)).isoformat()


async def test_shutdown_records_stopped(coordinator, storage):
    coord, _ = coordinator
    await coord.telemetry_tick(coord.clock.now())
    await coord.shutdown()
    states = await get_state_history(storage, NOW - _dt.timedelta(hours=1), NOW + _dt.timedelta(hours=1))
    assert states[-1].state == "stopped" and states[-1].metrics["readings"] == 1
    assert set(states[-1].metrics) <= {"soc_pct", "pv_w", "grid_w", "price_pln_kwh", "decisions", "readings", "session"}
