"""The executor against the real gateway and the simulator over loopback: write only on
change, no flip-flop, unknown values never command, the user's mode left on release."""

from __future__ import annotations

import datetime as _dt

import pytest

from gdpo.coordinator.executor import Executor
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.model import Decision
from gdpo.inverter.gateway import InverterGateway
from tests.coordinator.helpers import SIM_T0

T0 = SIM_T0



@pytest.fixture
async def executor(sim):
    gateway = InverterGateway("127.0.0.1", sim.port, timeout=1.0, retries=1)
    await gateway.connect()
    return Executor(gateway, rule_config())


def dec(action, minutes, rule="normal", soc=40.0, target=95.0):
    return Decision(ts=T0 + _dt.timedelta(minutes=minutes), action=action, rule=rule, reason="test",
                    battery_soc_pct=soc, target_soc_pct=target)


def at(m):
    return T0 + _dt.timedelta(minutes=m)


async def test_charge_is_written_once_and_continue_writes_nothing(executor, sim):
    r = await executor.apply(dec("charge", 0), at(0))
    assert r["commanded"] and executor.mode.name == "charge"
    writes = len(sim.device.write_log)
    assert writes > 0
    for m in (15, 30):
        r = await executor.apply(dec("continue", m), at(m))
        assert not r["commanded"]
    assert len(sim.device.write_log) == writes


async def test_no_flip_flop(executor, sim):
    await executor.apply(dec("charge", 0), at(0))
    early_stop = await executor.apply(dec("stop", 5, soc=50.0), at(5))
    assert not early_stop["commanded"] and "minimum run" in early_stop["why"]
    assert (await executor.apply(dec("stop", 15, soc=50.0), at(15)))["commanded"]
    restart = await executor.apply(dec("charge", 20), at(20))
    assert not restart["commanded"] and "restart block" in restart["why"]
    emergency = await executor.apply(dec("charge", 21, rule="emergency", soc=4.0, target=20.0), at(21))
    assert emergency["commanded"]


async def test_target_reached_stops_at_once(executor):
    await executor.apply(dec("charge", 0), at(0))
    r = await executor.apply(dec("stop", 3, soc=95.0, target=95.0), at(3))
    assert r["commanded"]


async def test_unknown_values_never_command(executor, sim):
    before = len(sim.device.write_log)
    assert not (await executor.apply(dec("hold", 0), at(0)))["commanded"]
    assert not (await executor.apply(dec("charge", 0, soc=None), at(0)))["commanded"]
    assert not (await executor.apply(dec("wait", 15), at(15)))["commanded"]  # user's mode untouched
    assert len(sim.device.write_log) == before


async def test_release_leaves_the_users_mode(executor, sim):
    mode_before = await executor.gateway.read_mode()
    await executor.apply(dec("charge", 0), at(0))
    assert (await executor.gateway.read_mode()) != mode_before
    assert await executor.release()
    assert (await executor.gateway.read_mode()).mode == mode_before.mode
    assert executor.mode.name is None
