"""A Raspberry Pi without a clock battery boots at a wrong time: nothing is stamped with it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import time

import pytest

from gdpo.coordinator.clock import RealClock, SimulatedClock
from gdpo.coordinator.clock_guard import RELEASE_DATE, ClockGuard
from gdpo.coordinator.collector import EnhancedDataCollector
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.master import MasterCoordinator
from gdpo.inverter.gateway import InverterGateway
from gdpo.inverter.simulator import start_simulator
from gdpo.prices import PriceService
from gdpo.prices.store import save_day
from gdpo.storage import open_storage
from tests.coordinator.test_e2e import sqlite_storage
from tests.coordinator.test_master import NO_PSE, market_day

UTC = _dt.timezone.utc
TRUE_NOW = _dt.datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
NEWEST = TRUE_NOW - _dt.timedelta(hours=1)  # the last reading stored before the power cut
BOOT = NEWEST - _dt.timedelta(hours=6)  # fake-hwclock: an older saved time
FAR_PAST = _dt.datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = _dt.datetime(2100, 1, 1, tzinfo=UTC)
RULES = rule_config({"coordinator": {"strategy": "rules"}})


class WallClock(RealClock):
    """A fake wall clock at 60x that NTP can set (``set``): a real clock, so it is guarded."""

    speed = 60.0

    def __init__(self, at: _dt.datetime):
        self.set(at)

    def set(self, at: _dt.datetime) -> None:
        self._base, self._m0 = at, time.monotonic()

    def now(self) -> _dt.datetime:
        return self._base + _dt.timedelta(seconds=(time.monotonic() - self._m0) * self.speed)


async def test_the_guard_believes_neither_the_past_nor_before_the_release(tmp_path):
    async with open_storage(sqlite_storage(tmp_path)) as storage:
        await storage.write("energy_data", {"ts": NEWEST, "battery_soc_pct": 50.0})
        guard = ClockGuard(lambda: TRUE_NOW)
        assert await guard.prime(storage) == NEWEST
    assert guard.problem(TRUE_NOW) is None
    assert guard.problem(NEWEST - _dt.timedelta(seconds=60)) is None, "within the tolerance"
    assert "before the newest stored record" in guard.problem(BOOT)
    assert "before this version's release" in guard.problem(_dt.datetime(1970, 1, 1, tzinfo=UTC))
    empty = ClockGuard(lambda: TRUE_NOW)
    assert empty.problem(RELEASE_DATE - _dt.timedelta(days=1)) is not None
    assert empty.problem(RELEASE_DATE + _dt.timedelta(days=1)) is None


def test_only_the_real_clock_is_guarded():
    assert MasterCoordinator(None, None, None, None, RULES, clock=RealClock()).clock_guard is not None
    simulated = SimulatedClock(start=_dt.datetime(2026, 3, 10, tzinfo=UTC))
    assert MasterCoordinator(None, None, None, None, RULES, clock=simulated).clock_guard is None


@contextlib.asynccontextmanager
async def coordinator_on(tmp_path, clock: WallClock, stored: list[dict] = ()):
    """(storage, coordinator) on SQLite and the simulator, driven by ``clock``; ``stored``
    energy_data records are written first."""
    server = await start_simulator("127.0.0.1", 0, speed=60.0, seed=5, start=TRUE_NOW)
    try:
        async with open_storage(sqlite_storage(tmp_path)) as storage:
            for record in stored:
                await storage.write("energy_data", record)
            await storage.flush()
            await save_day(storage, market_day(TRUE_NOW.date()), TRUE_NOW)
            gateway = InverterGateway("127.0.0.1", server.port, now=clock.now)
            await gateway.connect()
            async with PriceService(storage, NO_PSE) as prices:
                coord = MasterCoordinator(storage, gateway, None, prices, RULES, clock=clock)
                coord.collector = EnhancedDataCollector(storage, gateway, now=clock.now, price_source=coord.price_for)
                coord.fetch_prices = False
                coord.clock_poll_s = 0.05
                yield storage, coord
    finally:
        await server.stop()


async def test_a_run_booted_at_a_wrong_time_waits_and_stores_nothing_stamped_before(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="gdpo.coordinator.clock_guard")
    clock = WallClock(BOOT)
    async with coordinator_on(tmp_path, clock, [{"ts": NEWEST, "battery_soc_pct": 50.0}]) as (storage, coord):
        run = asyncio.create_task(coord.run(until=TRUE_NOW + _dt.timedelta(minutes=20)))
        await asyncio.sleep(1.0)  # an hour of the wrong clock passes
        assert not run.done() and coord.readings == 0 and coord.decisions == 0
        clock.set(TRUE_NOW)  # NTP answers
        await asyncio.wait_for(run, timeout=60)
        await storage.flush()
        stored = {kind: await storage.read(kind, FAR_PAST, FAR_FUTURE)
                  for kind in ("energy_data", "coordinator_decisions", "system_state")}
    assert coord.readings >= 10 and coord.decisions >= 1
    for kind, records in stored.items():
        wrong = [r.time for r in records if r.time != NEWEST and r.time < TRUE_NOW]
        assert not wrong, f"{kind} stamped with the wrong clock: {wrong[:3]}"
        assert any(r.time >= TRUE_NOW for r in records), kind
    assert len(stored["energy_data"]) >= coord.readings + 1  # the old one and every new reading
    warnings = [r for r in caplog.records if "nothing is stored until the clock is set" in r.getMessage()]
    assert len(warnings) == 1, "logged once"


async def test_a_clock_that_jumps_back_mid_run_stamps_nothing_until_it_is_sane(tmp_path):
    clock = WallClock(TRUE_NOW)
    async with coordinator_on(tmp_path, clock) as (_, coord):
        await coord.telemetry_tick(clock.now())
        assert coord.readings == 1
        clock.set(TRUE_NOW - _dt.timedelta(hours=3))
        await coord.telemetry_tick(clock.now())
        assert await coord.decision_tick(clock.now()) is None
        assert coord.readings == 1 and coord.decisions == 0
        clock.set(TRUE_NOW + _dt.timedelta(minutes=2))
        await coord.telemetry_tick(clock.now())
        assert coord.readings == 2


@pytest.mark.parametrize("boot", [_dt.datetime(1970, 1, 1, tzinfo=UTC), _dt.datetime(2025, 6, 1, tzinfo=UTC)])
def test_before_the_release_is_never_believed_even_on_an_empty_database(boot):
    guard = ClockGuard(lambda: boot)
    assert guard.refuse(boot)
