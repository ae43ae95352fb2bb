"""/metrics of a running coordinator: a MasterCoordinator on the simulator (the real goodwe
library over loopback) with a real SQLite storage exports what it lives through."""

from __future__ import annotations

import datetime as _dt
from zoneinfo import ZoneInfo

import pytest

from gdpo.coordinator.clock import SimulatedClock
from gdpo.coordinator.collector import EnhancedDataCollector
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.master import MasterCoordinator
from gdpo.inverter.gateway import InverterGateway
from gdpo.inverter.simulator import start_simulator
from gdpo.metrics import metrics_app
from gdpo.prices import PriceService
from gdpo.prices.store import save_day
from gdpo.storage import open_storage
from tests.metrics.conftest import scrape
from tests.metrics.test_storage_metrics import market_day, sqlite_config

DAY = _dt.date(2026, 3, 10)
NOW = _dt.datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw")).astimezone(_dt.timezone.utc)
NO_PSE = {"prices": {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0}}
RULES = rule_config({"coordinator": {"strategy": "rules"}})


@pytest.fixture
async def coordinator(tmp_path):
    server = await start_simulator("127.0.0.1", 0, speed=1.0, seed=5, start=NOW)
    clock = SimulatedClock(now_fn=server.device.clock.now)
    gateway = InverterGateway("127.0.0.1", server.port, now=clock.now, timeout=0.2, retries=0,
                              backoff_initial_s=0.0, backoff_max_s=0.0)
    await gateway.connect()
    async with open_storage(sqlite_config(tmp_path)) as storage:
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


async def test_coordinator_exports_readings_failures_decisions_mode_and_horizon(coordinator):
    coord, server = coordinator
    app = metrics_app(coord.storage, coordinator=coord, min_interval_s=0)
    await coord.telemetry_tick(coord.clock.now())
    decision = await coord.decision_tick(coord.clock.now())
    waiting = coord.storage.pipeline.buffered()
    assert waiting, "a heartbeat or a reading waits for its batch"
    s = await scrape(app)

    assert s["gdpo_inverter_readings_total"] == 1
    assert s["gdpo_inverter_read_failures_total"] == 0
    assert s["gdpo_inverter_up"] == 1
    assert 0 <= s["gdpo_inverter_last_reading_age_seconds"] < 60
    labels = {"decision_type": decision.decision_type, "action": decision.action}
    assert s["gdpo_decisions_total", labels] == 1
    assert s["gdpo_decisions_24h", labels] == 1  # and it is stored
    mode = coord.executor.mode.name or "user"
    assert s["gdpo_executor_mode", {"mode": mode}] == 1
    assert sum(s.labelled("gdpo_executor_mode").values()) == 1
    assert s["gdpo_coordinator_state", {"state": coord.state}] == 1
    # 10:00 local with today's prices: 14 h to local midnight, tomorrow not published
    assert s["gdpo_coordinator_prices_ahead_hours"] == pytest.approx(14, abs=0.1)
    assert s["gdpo_coordinator_prices_tomorrow_known"] == 0
    assert s["gdpo_prices_known_ahead_hours", {"source": "csdac-pln"}] == pytest.approx(14, abs=0.1)
    # a scrape never flushes a waiting batch (it reads the backends directly)
    assert coord.storage.pipeline.buffered() == waiting
    for kind, n in waiting.items():
        assert s["gdpo_storage_buffered_records", {"kind": kind}] == n
    assert s["gdpo_last_write_age_seconds", {"kind": "coordinator_decisions"}] < 60

    server.device.faults.silent = True  # the inverter stops answering
    server.device.advance(60)
    await coord.telemetry_tick(coord.clock.now())
    s = await scrape(app)
    assert s["gdpo_inverter_read_failures_total"] == 1
    assert s["gdpo_inverter_consecutive_failures"] == 1
    assert s["gdpo_inverter_up"] == 0
    assert s["gdpo_inverter_readings_total"] == 1
