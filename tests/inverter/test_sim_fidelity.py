"""The simulator behaves as a real ET does, read through the real ``goodwe`` library and gdpo's
conversion: conversion losses between the DC and AC sides, the meter's grid counters against
the inverter's AC-port counters, the backup port and reactive power, day counters that reset
at local midnight, an inverter without meter data, and a second battery."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import goodwe
import pytest

from gdpo.inverter.simulator import EfficiencyCurve, SimulatedInverter, SimulatorConfig, start_simulator
from gdpo.inverter.simulator.physics import PlantConfig
from gdpo.inverter.snapshot import snapshot_from_sensors
from tests.inverter.inverter_helpers import FAST, NIGHT, SUMMER_NOON, make_device, wait_until

UTC = dt.timezone.utc
WARSAW = ZoneInfo("Europe/Warsaw")


async def read(server) -> dict:
    """One ``read_runtime_data()`` of the real library against ``server``."""
    inv = await goodwe.connect(*server.address, family="ET", **FAST)
    return await inv.read_runtime_data()


def test_efficiency_curve_is_a_real_inverters():
    curve = EfficiencyCurve()
    for ac_w in (500, 1000, 2000, 5000, 8000, 10000):
        assert 0.94 <= curve.efficiency(ac_w) <= 0.97, ac_w
    assert curve.efficiency(100) < curve.efficiency(500) < curve.efficiency(3000)   # worse at low power
    assert curve.efficiency(10000) < curve.efficiency(3000)                         # and near full power
    assert curve.ac_for_bus_w(0.0) == pytest.approx(-curve.standby_w, rel=0.05)    # idle: the standby draw
    for bus in (-4000.0, 0.0, 300.0, 6000.0):                                       # the two directions agree
        assert curve.bus_for_ac_w(curve.ac_for_bus_w(bus)) == pytest.approx(bus, abs=1e-6)


async def test_losses_part_the_dc_side_from_the_ac_side(serve):
    server = await serve(make_device(start=SUMMER_NOON, seed=11, initial_soc_pct=40))
    raw = await read(server)
    st = server.device.plant.state
    snap = snapshot_from_sensors(raw, SUMMER_NOON)
    dc = raw["ppv"] + raw["pbattery1"]
    assert dc != raw["total_inverter_power"]
    assert snap.inverter_loss_w == dc - raw["total_inverter_power"] == pytest.approx(st.loss_w, abs=2)
    assert 0.02 * dc < snap.inverter_loss_w < 0.08 * (raw["ppv"] + abs(raw["pbattery1"]))
    # gdpo's house load (AC side) is the simulated load; the library's DC-side sum counts the losses too
    assert snap.house_consumption_w == round(st.load_w) == raw["load_ptotal"] + raw["backup_ptotal"]
    assert snap.house_consumption_dc_w == snap.house_consumption_w + snap.inverter_loss_w
    # the losses are recorded: the plant's counter grows by them
    before = st.totals_kwh["loss"]
    server.device.advance(3600)
    assert 0.05 < st.totals_kwh["loss"] - before < 1.0


async def test_self_use_covers_the_losses_too(serve):
    server = await serve(make_device(start=NIGHT, seed=2, initial_soc_pct=70))
    server.device.advance(900)
    raw = await read(server)
    assert raw["active_power"] == 0                                  # zero grid flow, as self-use aims for
    assert raw["pbattery1"] > raw["total_inverter_power"] == raw["load_ptotal"] + raw["backup_ptotal"]


async def test_meter_counts_the_grid_and_the_ac_port_counts_the_inverter(serve):
    """At night in self-use the battery covers the house: the grid meter stands still while the
    inverter's AC-port export counter runs with the load."""
    server = await serve(make_device(start=NIGHT, seed=2, initial_soc_pct=80))
    before = await read(server)
    server.device.advance(3 * 3600)
    after = await read(server)
    load_kwh = after["e_load_total"] - before["e_load_total"]
    assert load_kwh > 0.5
    assert after["meter_e_total_imp"] - before["meter_e_total_imp"] == pytest.approx(0.0, abs=0.02)
    assert after["meter_e_total_exp"] == before["meter_e_total_exp"]
    assert after["e_total_exp"] - before["e_total_exp"] == pytest.approx(load_kwh, abs=0.25)
    assert after["e_day_exp"] > before["e_day_exp"]
    assert after["e_bat_discharge_total"] - before["e_bat_discharge_total"] > load_kwh   # the losses too
    # the gdpo conversion takes grid energy from the meter only
    snap = snapshot_from_sensors(after, NIGHT)
    assert snap.grid_import_total_kwh == after["meter_e_total_imp"]
    assert snap.inverter_ac_export_total_kwh == after["e_total_exp"] != snap.grid_export_total_kwh


async def test_grid_charging_counts_into_the_ac_port_and_the_meter(serve):
    server = await serve(make_device(start=NIGHT, seed=2, initial_soc_pct=30))
    server.device.image.set(47545, [1, 90])     # fast charging from the grid
    before = await read(server)
    server.device.advance(3600)
    after = await read(server)
    ac_in = after["e_total_imp"] - before["e_total_imp"]
    grid_in = after["meter_e_total_imp"] - before["meter_e_total_imp"]
    assert ac_in > 4.5                                              # 5 kW and the losses went in
    assert grid_in == pytest.approx(ac_in + (after["e_load_total"] - before["e_load_total"]), abs=0.25)


async def test_backup_port_reactive_power_and_power_factor(serve):
    server = await serve(make_device(start=SUMMER_NOON.replace(hour=17), seed=5))
    raw = await read(server)
    house = raw["load_ptotal"] + raw["backup_ptotal"]
    assert 0.15 * house < raw["backup_ptotal"] < 0.6 * house
    assert raw["backup_ptotal"] == sum(raw[f"backup_p{i}"] for i in (1, 2, 3))
    assert raw["load_ptotal"] == sum(raw[f"load_p{i}"] for i in (1, 2, 3))
    assert len({raw[f"load_p{i}"] for i in (1, 2, 3)}) == 3                 # the phases are not alike
    assert raw["ups_load"] >= 1 and raw["backup_i1"] > 0
    assert 0 < raw["reactive_power"] < 0.1 * abs(raw["total_inverter_power"]) + 60
    assert raw["apparent_power"] >= abs(raw["total_inverter_power"])
    # the meter: the loads' reactive power, P/S power factors signed like the power
    assert raw["meter_active_power_total"] == sum(raw[f"meter_active_power{i}"] for i in (1, 2, 3))
    for suffix in ("1", "2", "3", "_total"):
        p, q = raw[f"meter_active_power{suffix}"], raw[f"meter_reactive_power{suffix}"]
        s = raw[f"meter_apparent_power{suffix}"]
        assert abs(s) == pytest.approx(math.hypot(p, q), abs=1)
        assert (s < 0) == (p < 0)
        pf = raw["meter_power_factor" + ("" if suffix == "_total" else suffix)]
        assert -1 <= pf <= 1 and pf == pytest.approx(p / math.hypot(p, q) if p or q else 0, abs=0.002)
    assert raw["meter_reactive_power_total"] > 0                            # inductive loads


async def test_no_meter_mode_gives_unknown_grid_counters(serve):
    server = await serve(make_device(start=SUMMER_NOON, seed=3, has_meter=False))
    assert [server.device.image.get(36000 + i) for i in range(125)] == [0] * 125
    raw = await read(server)
    snap = snapshot_from_sensors(raw, SUMMER_NOON)
    assert (raw["meter_e_total_imp"], raw["meter_e_total_exp"]) == (0.0, 0.0)
    assert (snap.grid_import_total_kwh, snap.grid_export_total_kwh) == (None, None)
    assert snap.house_consumption_w == round(server.device.plant.state.load_w)   # the AC side stays known
    assert snap.inverter_ac_export_total_kwh == raw["e_total_exp"] > 0


async def test_start_simulator_options():
    server = await start_simulator("127.0.0.1", 0, seed=1, start=NIGHT, no_meter=True, battery2_kwh=5.0)
    try:
        plant = server.device.config.plant
        assert plant.has_meter is False and plant.battery2_capacity_kwh == 5.0
        assert server.device.identity.model_name == "GW25K-ET"
        raw = await read(server)
        assert "pbattery2" in raw and raw["meter_e_total_imp"] == 0.0
    finally:
        await server.stop()


def _local(y, m, d, hh, mm) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=WARSAW).astimezone(UTC)


@pytest.mark.parametrize("start", [_local(2026, 3, 10, 23, 57), _local(2026, 6, 21, 23, 57)],
                         ids=["winter-time", "summer-time"])
async def test_day_counters_reset_at_local_midnight(serve, start):
    """Started three simulated minutes before Warsaw midnight at x120: the day counters hold the
    day so far, and reset when the local day ends (22:00 or 23:00 UTC), not at the start."""
    server = await serve(make_device(start=start, speed=120, seed=8))
    device = server.device
    before = await read(server)
    assert 5 < before["e_load_day"] < 40                   # a whole day's load so far, not 0 at the start
    assert before["e_bat_discharge_day"] > 0
    midnight = dt.datetime.combine(start.astimezone(WARSAW).date() + dt.timedelta(days=1), dt.time(0),
                                   tzinfo=WARSAW).astimezone(UTC)
    assert midnight.hour == (23 if start.month == 3 else 22)
    await wait_until(lambda: device.clock.now() > midnight + dt.timedelta(minutes=1), timeout_s=20)
    after = await read(server)
    assert after["timestamp"].date() == midnight.astimezone(WARSAW).date()
    for name in ("e_load_day", "e_bat_discharge_day", "e_day", "e_day_exp", "e_day_imp"):
        assert after[name] < 0.2, name
    assert after["e_load_total"] >= before["e_load_total"]                    # lifetime counters go on
    assert after["meter_e_total_imp"] >= before["meter_e_total_imp"]


def test_day_counters_can_start_at_zero():
    start = _local(2026, 3, 10, 18, 0)
    device = SimulatedInverter(SimulatorConfig(seed=1, speed=0, start=start, day_counters_from_midnight=False))
    assert device.plant.state.today_kwh["load"] < 0.01
    filled = SimulatedInverter(SimulatorConfig(seed=1, speed=0, start=start))
    assert 5 < filled.plant.state.today_kwh["load"] < 30
    assert filled.plant.state.today_kwh["pv"] > 1                           # a March day's PV so far


async def test_second_battery_is_read_and_summed(serve):
    server = await serve(make_device(start=NIGHT, seed=4, initial_soc_pct=70, battery2_capacity_kwh=5.0))
    server.device.advance(600)
    raw = await read(server)
    st = server.device.plant.state
    assert raw["pbattery1"] > 0 and raw["pbattery2"] > 0                      # both discharge
    assert raw["pbattery1"] == pytest.approx(2 * raw["pbattery2"], abs=2)     # shared by capacity 10:5
    assert raw["pbattery1"] + raw["pbattery2"] == round(st.battery_w)
    assert raw["battery2_soc"] == raw["battery_soc"] and raw["battery2_mode_label"] == "Discharge"
    assert raw["vbattery2"] > 150 and raw["ibattery2"] > 0
    snap = snapshot_from_sensors(raw, NIGHT)
    assert snap.battery_power_w == -(raw["pbattery1"] + raw["pbattery2"])     # gdpo: < 0 discharging
    assert snap.battery2_power_w == -raw["pbattery2"]
    assert snap.inverter_loss_w == raw["ppv"] + raw["pbattery1"] + raw["pbattery2"] - raw["total_inverter_power"] > 0
    assert snap.house_consumption_w == round(st.load_w)
    assert snap.grid_power_w == 0.0


def test_second_battery_adds_capacity():
    one = make_device(initial_soc_pct=80, seed=4)
    two = make_device(initial_soc_pct=80, seed=4, battery2_capacity_kwh=10.0)
    assert two.config.plant.total_capacity_kwh == 20.0
    one.advance(3 * 3600)
    two.advance(3 * 3600)
    # the same night's load takes half the SOC from twice the capacity
    assert 80 - two.plant.state.soc_pct == pytest.approx((80 - one.plant.state.soc_pct) / 2, rel=0.05)
    assert PlantConfig(battery2_capacity_kwh=0).total_capacity_kwh == 10.0
