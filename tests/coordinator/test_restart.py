"""Restarts: a coordinator killed mid-charge (dropped without shutdown) and a new one started
on the same simulator and the same SQLite database. The real ``goodwe`` library drives the
simulator over loopback; the bundled sample prices are used (PSE is never contacted).

Also the executor's reconcile logic on its own: a leftover eco charge or discharge becomes
gdpo's current mode; a clean shutdown always leaves the user's mode.
"""

from __future__ import annotations

import datetime as _dt

import pytest
from goodwe import OperationMode

from gdpo.coordinator.clock import SimulatedClock
from gdpo.coordinator.collector import EnhancedDataCollector
from gdpo.coordinator.executor import Executor
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.master import MasterCoordinator
from gdpo.coordinator.model import Decision
from gdpo.inverter.gateway import InverterGateway
from gdpo.inverter.simulator import start_simulator
from gdpo.prices import PriceService
from gdpo.storage import open_storage
from gdpo.storage.aggregate import zone
from tests.coordinator.helpers import SIM_T0

UTC = _dt.timezone.utc
NO_PSE = {"prices": {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0, "timeout_s": 1.0}}
NIGHT = _dt.datetime(2026, 3, 9, 22, 0, tzinfo=zone("Europe/Warsaw")).astimezone(UTC)  # cheap quarters ahead
SPEED = 600.0  # 15 simulated minutes in 1.5 s

RULES = rule_config({"coordinator": {"strategy": "rules"}})  # these tests follow the rules' sessions


def sqlite(tmp_path) -> dict:
    return {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")}}


async def gateway_for(server, clock=None) -> InverterGateway:
    gateway = InverterGateway("127.0.0.1", server.port, timeout=1.0, retries=2,
                              now=(clock.now if clock else (lambda: server.device.clock.now())))
    await gateway.connect()
    return gateway


def coordinator(storage, gateway, prices, clock) -> MasterCoordinator:
    coord = MasterCoordinator(storage, gateway, None, prices, RULES, clock=clock)
    coord.collector = EnhancedDataCollector(storage, gateway, now=clock.now, price_source=coord.price_for)
    coord.fetch_prices = False
    return coord


async def charge_then_die(tmp_path, server) -> None:
    """A coordinator that ticks until it has charged for a while, then is dropped: no
    shutdown, no release (what a killed process leaves)."""
    clock = SimulatedClock(speed=SPEED, now_fn=server.device.clock.now)
    async with open_storage(sqlite(tmp_path)) as storage:
        async with PriceService(storage, NO_PSE, simulate=True) as prices:
            coord = coordinator(storage, await gateway_for(server, clock), prices, clock)
            coord.started_at = clock.now()
            await coord.sessions.load(clock.now())
            charged = 0
            for _ in range(40):  # at most 10 simulated hours
                await coord.telemetry_tick(clock.now())
                await coord.decision_tick(clock.now())
                charged = charged + 1 if coord.executor.mode.name == "charge" else 0
                if charged >= 2:
                    break
                server.device.advance(15 * 60)
            assert charged >= 2, "the night never charged"
            await coord.sessions.checkpoint()
        # the process dies here: the storage keeps what it wrote, the inverter keeps charging
    assert (await (await gateway_for(server)).read_mode()).mode == OperationMode.ECO_CHARGE


@pytest.fixture
async def night_sim():
    server = await start_simulator("127.0.0.1", 0, speed=SPEED, seed=7, start=NIGHT)
    try:
        yield server
    finally:
        await server.stop()


async def restart(tmp_path, server, minutes: float):
    """A new coordinator on the same simulator and database, run for ``minutes`` of simulated
    time and shut down cleanly. Returns (coordinator, sessions, decisions, mode after)."""
    clock = SimulatedClock(speed=SPEED, now_fn=server.device.clock.now)
    async with open_storage(sqlite(tmp_path)) as storage:
        async with PriceService(storage, NO_PSE, simulate=True) as prices:
            coord = coordinator(storage, await gateway_for(server, clock), prices, clock)
            start = clock.now()
            await coord.run(start + _dt.timedelta(minutes=minutes))
            wide = (start - _dt.timedelta(days=1), start + _dt.timedelta(days=1))
            sessions = await storage.read("charging_sessions", *wide)
            decisions = await storage.read("coordinator_decisions", start, wide[1])
    mode = (await (await gateway_for(server)).read_mode()).mode
    return coord, start, sessions, decisions, mode


async def test_killed_mid_charge_is_adopted_measured_and_released(tmp_path, night_sim):
    await charge_then_die(tmp_path, night_sim)
    coord, start, sessions, decisions, mode = await restart(tmp_path, night_sim, minutes=20)

    # the lost process's session is failed; a new one was adopted at start and measured
    failed = [s for s in sessions if s.status == "failed"]
    assert failed and failed[-1].payload["end_reason"] == "the coordinator stopped mid-session"
    adopted = [s for s in sessions if s.payload.get("adopted")]
    assert len(adopted) == 1
    s = adopted[0]
    assert s.payload["adopted_from"] == failed[-1].session_id
    assert "adopted after a restart" in s.payload["start_reason"]
    assert abs((s.start_ts - start).total_seconds()) < 60  # measured from the restart
    first = min(decisions, key=lambda d: d.ts)
    assert (first.ts - start) < _dt.timedelta(minutes=15)
    assert first.action == "continue" and first.payload["rule"] == "active_session", first.payload
    assert s.actual_energy_kwh > 0 and s.cost_pln > 0  # telemetry ticks during the adopted session
    assert s.payload["quarters_measured"]
    # the clean shutdown left the user's mode (self-use), and closed the session
    assert s.status in ("cancelled", "completed")
    assert mode == OperationMode.GENERAL
    assert coord.executor.mode.name is None


async def test_killed_mid_charge_then_restarted_at_the_peak_goes_back_to_self_use(tmp_path, night_sim):
    await charge_then_die(tmp_path, night_sim)
    local = night_sim.device.clock.now().astimezone(zone("Europe/Warsaw"))
    peak = local.replace(hour=18, minute=5) + _dt.timedelta(days=1 if local.hour >= 12 else 0)
    night_sim.device.advance((peak - local).total_seconds())  # the process stayed dead until the evening peak
    coord, start, sessions, decisions, mode = await restart(tmp_path, night_sim, minutes=5)
    first = min(decisions, key=lambda d: d.ts)
    assert first.action == "stop" and first.payload["executed"]["commanded"], first.payload
    assert first.payload["executed"]["mode"] == "self_use"
    adopted = [s for s in sessions if s.payload.get("adopted")]
    assert adopted and adopted[0].status in ("cancelled", "completed")  # the battery may have filled meanwhile
    assert adopted[0].end_ts == first.ts
    assert mode == OperationMode.GENERAL


# -- the executor's reconcile on its own ---------------------------------------------------
T0 = SIM_T0



def dec(action, minutes=0, soc=40.0, target=95.0, rule="normal") -> Decision:
    return Decision(ts=T0 + _dt.timedelta(minutes=minutes), action=action, rule=rule, reason="test",
                    battery_soc_pct=soc, target_soc_pct=target)


async def leave_charging(server, target=80, power_pct=50) -> None:
    """An earlier process's gateway commands a charge and is dropped."""
    await (await gateway_for(server)).charge(target, power_pct)


async def test_reconcile_adopts_a_leftover_charge_and_stop_is_not_hidden(sim):
    await leave_charging(sim)
    ex = Executor(await gateway_for(sim), rule_config())
    found = await ex.reconcile(T0)
    assert found == {"mode": "ECO_CHARGE", "adopted": "charge", "target_soc_pct": 80.0}
    assert ex.mode.name == "charge" and ex.mode.target_soc_pct == 80.0 and ex.mode.power == 50
    r = await ex.apply(dec("wait", 1), T0 + _dt.timedelta(minutes=1))  # no flip-flop block on a leftover
    assert r == {"commanded": True, "mode": "self_use"}
    assert (await ex.gateway.read_mode()).mode == OperationMode.GENERAL
    await ex.release()
    assert (await ex.gateway.read_mode()).mode == OperationMode.GENERAL  # not restored to the leftover


async def test_reconcile_then_continue_writes_nothing(sim):
    await leave_charging(sim)
    ex = Executor(await gateway_for(sim), rule_config())
    await ex.reconcile(T0)
    writes = len(sim.device.write_log)
    assert (await ex.apply(dec("continue", 15, target=80.0), T0))["why"] == "already charging"
    assert len(sim.device.write_log) == writes


async def test_reconcile_takes_a_leftover_export_and_the_next_decision_ends_it(sim):
    await (await gateway_for(sim)).sell(2000, 30)
    ex = Executor(await gateway_for(sim), rule_config())
    assert (await ex.reconcile(T0))["adopted"] == "sell"
    assert (await ex.apply(dec("wait"), T0))["commanded"]
    assert (await ex.gateway.read_mode()).mode == OperationMode.GENERAL


async def test_reconcile_leaves_the_users_mode_alone(sim):
    ex = Executor(await gateway_for(sim), rule_config())
    before = len(sim.device.write_log)
    found = await ex.reconcile(T0)
    assert found["adopted"] is None and found["mode"] == "GENERAL" and ex.mode.name is None
    assert not await ex.release()
    assert len(sim.device.write_log) == before


async def test_release_commands_self_use_though_nothing_was_commanded(sim):
    ex = Executor(await gateway_for(sim), rule_config())
    await ex.reconcile(T0)
    await leave_charging(sim)  # something left a charge after the start read
    assert ex.mode.name is None
    assert await ex.release()
    assert (await ex.gateway.read_mode()).mode == OperationMode.GENERAL


class CommandsOnly:
    """A gateway that can command but not read the mode (delegates to a real gateway)."""

    def __init__(self, gateway: InverterGateway):
        self._g = gateway

    async def charge(self, target_soc, power_pct):
        return await self._g.charge(target_soc, power_pct)

    async def self_use(self):
        return await self._g.self_use()

    async def sell(self, power_w, min_soc):
        return await self._g.sell(power_w, min_soc)


async def test_without_read_mode_the_users_mode_is_assumed(sim, caplog):
    ex = Executor(CommandsOnly(await gateway_for(sim)), rule_config())
    with caplog.at_level("INFO"):
        found = await ex.reconcile(T0)
    assert found["assumed"] and ex.mode.name is None
    assert "assuming the user's mode" in caplog.text
    assert not await ex.release()


async def test_a_mode_not_read_at_start_is_read_before_the_first_command(sim):
    """The inverter did not answer at start: the first decision reads the real mode first,
    so a leftover charge is not hidden by "no change"."""
    await leave_charging(sim)
    ex = Executor(await gateway_for(sim), rule_config())
    r = await ex.apply(dec("wait"), T0)
    assert r == {"commanded": True, "mode": "self_use"} and ex.reconciled
    assert (await ex.gateway.read_mode()).mode == OperationMode.GENERAL
