"""The inverter gateway against the simulator: signs, unknown values, write-on-change with
read-back, selling with saved and restored limits, backoff and reconnect."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from goodwe import OperationMode

from gdpo.config import load_config
from gdpo.inverter.gateway import (CommandNotApplied, InverterGateway, InverterGatewayError, InverterRejected,
                                   InverterUnavailable, encode_schedule)
from gdpo.inverter.simulator import registers as r
from gdpo.inverter.snapshot import snapshot_from_sensors
from tests.inverter.inverter_helpers import FAST, make_device


def gateway_for(server, **kwargs) -> InverterGateway:
    host, port = server.address
    return InverterGateway(host, port, backoff_initial_s=0.05, backoff_max_s=0.2, **{**FAST, **kwargs})


async def test_snapshot_uses_gdpo_signs(serve):
    server = await serve(make_device(initial_soc_pct=40), "udp")
    gw = gateway_for(server)
    await gw.charge(90, 30)
    server.device.advance(600)
    snap = await gw.read_snapshot()
    raw = snap.raw
    assert raw["pbattery1"] == -3000 and raw["active_power"] < 0        # goodwe: charging, importing
    assert snap.battery_power_w == 3000.0                                 # gdpo: + charging
    assert snap.grid_power_w == -raw["active_power"] > 3000               # gdpo: + import
    assert snap.battery_current_a == -raw["ibattery1"] > 0
    # the DC side less the inverter's losses (charging from the grid: they come from the grid too)
    assert snap.inverter_loss_w > 0
    assert snap.house_consumption_w == snap.pv_power_w - snap.battery_power_w + snap.grid_power_w - snap.inverter_loss_w
    assert snap.house_consumption_w == raw["load_ptotal"] + raw["backup_ptotal"]
    assert snap.house_consumption_w == round(server.device.plant.state.load_w)
    assert snap.grid_import_total_kwh == raw["meter_e_total_imp"]
    assert snap.grid_export_total_kwh == raw["meter_e_total_exp"]
    assert snap.pv_energy_today_kwh == raw["e_day"]
    assert snap.house_consumption_total_kwh == raw["e_load_total"]
    assert snap.ts.tzinfo is dt.timezone.utc
    assert gw.serial_number == "9010KETU214W0001"


def test_unreadable_values_are_none_never_zero():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    snap = snapshot_from_sensors({"ppv": 0, "active_power": 0, "pbattery1": 0, "battery_mode": 1, "vbattery1": 0,
                                  "battery_temperature": None}, now)
    assert snap.pv_power_w == 0.0 and snap.grid_power_w == 0.0
    assert snap.battery_soc_pct is None              # battery block not read
    assert snap.battery_voltage_v is None            # undefined register, which the library turns into 0
    assert snap.battery_temp_c is None
    assert snap.grid_import_total_kwh is None
    assert snap.energy_fields()["house_consumption_w"] is None


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_charge_writes_only_on_change_and_reads_back(serve, transport):
    server = await serve(make_device(), transport)
    gw = gateway_for(server)
    sim = server.device
    assert await gw.charge(80, 50) is True
    writes = len(sim.write_log)
    assert await gw.charge(80, 50) is False          # same state read back: nothing written
    assert len(sim.write_log) == writes
    assert await gw.charge(90, 50) is True           # a different target: written again
    assert (await gw.read_mode()).eco_soc_pct == 90
    assert await gw.self_use() is True
    assert await gw.self_use() is False
    assert sim.image.get(r.REG_WORK_MODE) == 0
    with pytest.raises(ValueError):
        await gw.charge(120, 50)


async def test_sell_saves_and_restores_export_limit_and_dod(serve):
    server = await serve(make_device(initial_soc_pct=80), "udp")
    sim = server.device
    await gw_set_user_limits(server, export_limit_w=4000, dod=80)
    gw = gateway_for(server)
    assert await gw.sell(2500, 40) is True
    assert gw.saved_limits.export_limit_w == 4000 and gw.saved_limits.dod_pct == 80
    assert sim.image.get(r.REG_GRID_EXPORT_LIMIT) == 2500
    assert sim.image.get(r.REG_DISCHARGE_DEPTH) == 40              # 100 - DoD 60 = SOC floor 40 %
    mode = await gw.read_mode()
    assert mode.mode == OperationMode.ECO_DISCHARGE and mode.eco_power_pct == 25
    sim.advance(600)
    snap = await gw.read_snapshot()
    assert snap.battery_power_w == -2500.0                          # discharging
    assert await gw.sell(2500, 40) is False                         # nothing new to write
    assert gw.saved_limits.export_limit_w == 4000                   # still the user's, not ours
    assert await gw.self_use() is True
    assert gw.saved_limits is None
    assert sim.image.get(r.REG_GRID_EXPORT_LIMIT) == 4000
    assert sim.image.get(r.REG_DISCHARGE_DEPTH) == 20


async def gw_set_user_limits(server, *, export_limit_w: int, dod: int) -> None:
    server.device.image.set(r.REG_GRID_EXPORT_LIMIT, export_limit_w)
    server.device.image.set(r.REG_DISCHARGE_DEPTH, 100 - dod)


async def test_shutdown_leaves_the_users_eco_mode(serve):
    server = await serve(make_device(), "udp")
    sim = server.device
    user_group = [0x0600, 0x0800, 0xFF3E, (-30) & 0xFFFF, 70, 0]     # Mon-Fri 06:00-08:00 charge 30 %
    sim.image.set(47547, user_group)
    sim.image.set(r.REG_WORK_MODE, 3)
    gw = gateway_for(server)
    await gw.charge(95, 100)
    assert sim.image.get(47551) == 95
    await gw.shutdown()
    assert [sim.image.get(47547 + i) for i in range(6)] == user_group
    assert sim.image.get(r.REG_WORK_MODE) == 3


async def test_unanswering_inverter_backs_off_then_reconnects(serve):
    server = await serve(make_device(), "tcp")
    clock = [1000.0]
    gw = gateway_for(server, monotonic=lambda: clock[0])
    gw.backoff_initial_s = gw._backoff = 5.0
    await gw.connect()
    server.device.faults.silent = True
    with pytest.raises(InverterUnavailable, match="did not answer"):
        await gw.read_snapshot()
    assert not gw.connected
    with pytest.raises(InverterUnavailable, match="next connection attempt"):
        await gw.read_snapshot()                     # fails fast during the backoff
    server.device.faults.silent = False
    clock[0] += 4.9
    with pytest.raises(InverterUnavailable, match="next connection attempt in 0.1 s"):
        await gw.read_snapshot()
    clock[0] += 0.2
    snap = await gw.read_snapshot()
    assert snap.battery_soc_pct == 50.0
    assert gw.connected and gw.consecutive_failures == 0
    assert server.device.reads[(35000, 33)] == 2          # reconnected once after the outage


async def test_one_connection_serves_concurrent_callers(serve):
    server = await serve(make_device(), "udp")
    gw = gateway_for(server)
    results = await asyncio.gather(*(gw.read_snapshot() for _ in range(4)), gw.charge(70, 30), gw.read_mode())
    assert all(s.battery_soc_pct == 50.0 for s in results[:4])
    assert results[5].eco_soc_pct == 70
    assert server.device.reads[(35000, 33)] == 1          # connected once, reused by every call


async def test_modbus_exception_is_reported_as_rejected(serve):
    server = await serve(make_device(), "udp")
    gw = gateway_for(server)
    await gw.connect()
    server.device.faults.exception_code = 4
    with pytest.raises(InverterRejected, match="SLAVE DEVICE FAILURE"):
        await gw.read_snapshot()


async def test_connect_failure_names_the_inverter():
    gw = InverterGateway("127.0.0.1", 9, timeout=0.1, retries=0, backoff_initial_s=10)
    with pytest.raises(InverterUnavailable, match=r"127\.0\.0\.1:9.*ET"):
        await gw.connect()


async def test_undecodable_setting_is_a_gateway_error(serve):
    server = await serve(make_device(), "udp")
    server.device.image.set(r.REG_WORK_MODE, 3)
    server.device.image.set(47547, [0x6300, 0, 0xFF7F, 0, 0, 0])    # start hour 99: not a time
    gw = gateway_for(server)
    with pytest.raises(InverterGatewayError, match="invalid value"):
        await gw.charge(80, 50)
    assert (await gw.read_snapshot()).battery_soc_pct == 50.0        # readings are unaffected


def test_gateway_from_config():
    cfg = load_config({"inverter": {"host": "127.0.0.9", "port": 502, "timeout": 0.5}})
    gw = InverterGateway.from_config(cfg)
    assert (gw.host, gw.port, gw.family, gw.timeout, gw.retries) == ("127.0.0.9", 502, "ET", 0.5, 3)
    assert cfg.section("collector")["interval_s"] == 60.0


def test_schedule_bytes_round_trip():
    from goodwe.protocol import ProtocolResponse
    from goodwe.sensor import EcoModeV2

    raw = bytes.fromhex("0000173bff7fffce00500000")
    group = EcoModeV2("eco_mode_1", 47547, "x").read_value(ProtocolResponse(raw, None))
    assert encode_schedule(group) == raw


async def test_write_that_does_not_stick_is_reported(serve):
    server = await serve(make_device(), "udp")
    server.device.faults.ignore_writes = True       # echoes the write, keeps the old value
    gw = gateway_for(server)
    with pytest.raises(CommandNotApplied, match="read back"):
        await gw.charge(80, 50)
