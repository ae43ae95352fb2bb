"""Each command the coordinator uses, sent by the goodwe library: the registers change the way
the library wrote them, and the simulated physics follows."""

from __future__ import annotations

import goodwe
import pytest
from goodwe import EMSMode, OperationMode

from gdpo.inverter.simulator import registers as r
from tests.inverter.inverter_helpers import FAST, SUMMER_NOON, make_device


async def connect(serve, **device):
    server = await serve(make_device(**device), "udp")
    inv = await goodwe.connect(*server.address, family="ET", **FAST)
    return server.device, inv


async def test_eco_charge_charges_from_the_grid_until_the_target(serve):
    sim, inv = await connect(serve, initial_soc_pct=30)
    await inv.set_operation_mode(OperationMode.ECO_CHARGE, eco_mode_power=50, eco_mode_soc=80)
    img = sim.image
    assert img.get(r.REG_WORK_MODE) == 3
    assert [img.get(47547 + i) for i in range(6)] == [0x0000, 0x173B, 0xFF7F, (-50) & 0xFFFF, 80, 0]
    assert [img.get(a) >> 8 for a in (47555, 47561, 47567)] == [0, 0, 0]
    assert (img.get(r.REG_EMS_MODE), img.get(r.REG_EMS_POWER_LIMIT)) == (1, 0)
    assert await inv.get_operation_mode() == OperationMode.ECO_CHARGE
    group = await inv.read_setting("eco_mode_1")
    assert (group.get_power(), group.soc) == (-50, 80)

    before = await inv.read_runtime_data()
    sim.advance(1800)
    during = await inv.read_runtime_data()
    assert during["pbattery1"] == -5000            # 50 % of 10 kW, within the 5 kW battery limit
    assert during["active_power"] < -5000           # the grid supplies battery and house
    assert during["battery_mode_label"] == "Charge"
    assert during["battery_soc"] == pytest.approx(30 + 5 * 0.5 * 0.95 / 10 * 100, abs=1.5)
    assert during["meter_e_total_imp"] - before["meter_e_total_imp"] > 2.5
    assert during["e_bat_charge_day"] - before["e_bat_charge_day"] == pytest.approx(2.5, abs=0.15)

    sim.advance(4 * 3600)
    full = await inv.read_runtime_data()
    assert full["battery_soc"] == 80
    assert full["pbattery1"] == 0                   # target reached: holds, no discharge at night


async def test_eco_discharge_exports_down_to_the_soc_floor(serve):
    sim, inv = await connect(serve, initial_soc_pct=60)
    await inv.set_operation_mode(OperationMode.ECO_DISCHARGE, eco_mode_power=30)
    assert await inv.get_operation_mode() == OperationMode.ECO_DISCHARGE
    assert r.to_signed16(sim.image.get(47550)) == 30
    sim.advance(600)
    data = await inv.read_runtime_data()
    assert data["pbattery1"] == 3000
    assert data["house_consumption"] == data["ppv"] + 3000 - data["active_power"]
    sim.advance(12 * 3600)
    data = await inv.read_runtime_data()
    assert data["battery_soc"] == 10               # default DoD 90 % -> floor 10 %
    assert data["pbattery1"] == 0


async def test_general_mode_is_self_use(serve):
    sim, inv = await connect(serve, initial_soc_pct=60)
    await inv.set_operation_mode(OperationMode.ECO_CHARGE, 100, 100)
    await inv.set_operation_mode(OperationMode.GENERAL)
    assert sim.image.get(r.REG_WORK_MODE) == 0
    assert sim.writes_to(r.REG_CLEAR_BATTERY_MODE)[-1].values == (1,)
    assert await inv.get_operation_mode() == OperationMode.GENERAL
    sim.advance(600)
    data = await inv.read_runtime_data()
    house = data["load_ptotal"] + data["backup_ptotal"]
    assert data["total_inverter_power"] == house      # at night the battery covers the house ...
    assert data["pbattery1"] > house                  # ... and the inverter's losses
    assert data["active_power"] == 0


async def test_fast_charging_runs_to_its_soc(serve):
    sim, inv = await connect(serve, initial_soc_pct=40)
    await inv.write_setting("fast_charging_power", 40)
    await inv.write_setting("fast_charging_soc", 55)
    await inv.write_setting("fast_charging", 1)
    assert [sim.image.get(a) for a in (47545, 47546, 47603)] == [1, 55, 40]
    assert await inv.read_setting("fast_charging") == 1
    sim.advance(300)
    data = await inv.read_runtime_data()
    assert data["pbattery1"] == -2000               # 40 % of the 5 kW charge limit
    assert data["active_power"] < -2000
    sim.advance(3600)                                         # 15 % at 1.9 kW takes 47 minutes
    assert await inv.read_setting("fast_charging") == 0     # switched itself off at 55 %
    data = await inv.read_runtime_data()
    assert 50 <= data["battery_soc"] <= 56
    assert data["pbattery1"] >= 0                             # self-use again


async def test_export_limit_curtails_pv(serve):
    sim, inv = await connect(serve, start=SUMMER_NOON, initial_soc_pct=100, seed=11)
    sim.advance(60)
    free = await inv.read_runtime_data()
    assert free["active_power"] > 1500, "a full battery at summer noon exports"
    await inv.set_grid_export_limit(800)
    assert sim.image.get(r.REG_GRID_EXPORT_LIMIT) == 800
    assert await inv.get_grid_export_limit() == 800
    sim.advance(60)
    limited = await inv.read_runtime_data()
    assert limited["active_power"] <= 800
    assert limited["ppv"] < free["ppv"]
    assert limited["house_consumption"] == limited["ppv"] + limited["pbattery1"] - limited["active_power"]


async def test_dod_sets_the_discharge_floor(serve):
    sim, inv = await connect(serve, initial_soc_pct=60)
    await inv.set_ongrid_battery_dod(50)
    assert sim.image.get(r.REG_DISCHARGE_DEPTH) == 50
    assert await inv.get_ongrid_battery_dod() == 50
    sim.advance(5 * 3600)   # still before sunrise
    data = await inv.read_runtime_data()
    assert data["battery_soc"] == 50
    assert data["pbattery1"] == 0
    house = data["load_ptotal"] + data["backup_ptotal"]
    assert -30 < data["total_inverter_power"] < 0           # the idle inverter draws its standby power
    assert data["active_power"] == data["total_inverter_power"] - house   # the grid takes over


async def test_ems_mode_and_its_reset_by_set_operation_mode(serve):
    sim, inv = await connect(serve, initial_soc_pct=40)
    await inv.set_ems_mode(EMSMode.CHARGE_BATTERY, 3000)
    assert await inv.get_ems_mode() == EMSMode.CHARGE_BATTERY
    sim.advance(300)
    assert (await inv.read_runtime_data())["pbattery1"] == -3000
    await inv.set_operation_mode(OperationMode.GENERAL)
    assert (sim.image.get(r.REG_EMS_MODE), sim.image.get(r.REG_EMS_POWER_LIMIT)) == (1, 0)
    assert await inv.get_ems_mode() == EMSMode.AUTO


async def test_write_log_records_every_accepted_write(serve):
    sim, inv = await connect(serve)
    await inv.set_operation_mode(OperationMode.ECO_CHARGE, 20, 90)
    addresses = [w.address for w in sim.write_log]
    assert addresses == [47547, 47555, 47561, 47567, 47000, 47511]
    first = sim.write_log[0]
    assert first.function == 0x10 and len(first.values) == 6
    assert first.sim_time.tzinfo is not None
    assert [w.values for w in sim.writes_to(47000)] == [(3,)]
