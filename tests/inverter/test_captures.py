"""Real GoodWe ET captures replayed through the real ``goodwe`` library and gdpo's conversion.

Each capture is decoded by the library as in its own tests (``capture_replay``), converted by
``snapshot_from_sensors`` and checked field by field: signs, the AC-side balance against the
load and backup ports, the grid meter's counters (never the inverter's AC-port counters), the
battery's lifetime counters, and what must stay unknown (an empty meter or battery block).
"""

from __future__ import annotations

import datetime as dt

import pytest

from gdpo.coordinator.model import Telemetry
from gdpo.inverter.snapshot import ENERGY_FIELDS, snapshot_from_sensors
from gdpo.storage.records import make_record
from tests.inverter.capture_replay import CAPTURES, SCENARIOS, CaptureET, replay

TS = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
RUNTIME = [name for name, answers in SCENARIOS.items() if "_READ_RUNNING_DATA" in answers]

# every converted field of every runtime capture (gdpo signs: grid + import, battery + charging)
EXPECTED: dict[str, dict[str, object]] = {
    "GW10K-ET fw617": dict(
        battery_soc_pct=68.0, battery_power_w=2512.0, battery_voltage_v=254.2, battery_current_a=9.8,
        battery_temp_c=35.0, pv_power_w=3456.0, grid_power_w=3.0, grid_voltage_v=239.3,
        house_consumption_w=834.0, grid_import_total_kwh=3254.462, grid_export_total_kwh=10.514,
        pv_energy_today_kwh=12.5, house_consumption_total_kwh=8820.2, house_consumption_dc_w=947.0,
        inverter_loss_w=113.0, backup_load_w=312.0, battery2_power_w=None, house_consumption_today_kwh=11.6,
        battery_charge_total_kwh=2758.1, battery_discharge_total_kwh=2442.1, battery_charge_today_kwh=5.3,
        battery_discharge_today_kwh=2.9, pv_energy_total_kwh=6085.3, inverter_ac_import_today_kwh=0.0,
        inverter_ac_export_today_kwh=9.8, inverter_ac_import_total_kwh=58.0, inverter_ac_export_total_kwh=4718.6,
        battery_mode="Charge", inverter_time="2021-08-22T11:11:12"),
    "GW10K-ET fw1023": dict(   # no meter and no battery block captured: both answered as zeros
        battery_soc_pct=None, battery_power_w=-820.0, battery_voltage_v=397.1, battery_current_a=-2.0,
        battery_temp_c=None, pv_power_w=0.0, grid_power_w=11.0, grid_voltage_v=244.4,
        house_consumption_w=823.0, grid_import_total_kwh=None, grid_export_total_kwh=None,
        pv_energy_today_kwh=0.0, house_consumption_total_kwh=35366.4, house_consumption_dc_w=831.0,
        inverter_loss_w=8.0, backup_load_w=321.0, battery2_power_w=None, house_consumption_today_kwh=0.0,
        battery_charge_total_kwh=9884.3, battery_discharge_total_kwh=8642.2, battery_charge_today_kwh=0.0,
        battery_discharge_today_kwh=0.1, pv_energy_total_kwh=30630.9, inverter_ac_import_today_kwh=0.0,
        inverter_ac_export_today_kwh=0.0, inverter_ac_import_total_kwh=70.3, inverter_ac_export_total_kwh=27208.5,
        battery_mode="Discharge", inverter_time="2024-05-11T00:03:34"),
    "GW20K-ET": dict(
        battery_soc_pct=100.0, battery_power_w=153.0, battery_voltage_v=381.6, battery_current_a=0.4,
        battery_temp_c=14.1, pv_power_w=2095.0, grid_power_w=-1556.0, grid_voltage_v=233.8,
        house_consumption_w=410.0, grid_import_total_kwh=0.15, grid_export_total_kwh=35.55,
        pv_energy_today_kwh=49.9, house_consumption_total_kwh=285.6, house_consumption_dc_w=386.0,
        inverter_loss_w=-24.0, backup_load_w=484.0, battery2_power_w=None, house_consumption_today_kwh=0.2,
        battery_charge_total_kwh=381.7, battery_discharge_total_kwh=303.6, battery_charge_today_kwh=10.4,
        battery_discharge_today_kwh=2.8, pv_energy_total_kwh=50.1, inverter_ac_import_today_kwh=0.0,
        inverter_ac_export_today_kwh=40.8, inverter_ac_import_total_kwh=392.0, inverter_ac_export_total_kwh=331.6,
        battery_mode="Charge", inverter_time="2026-03-29T17:26:45"),
    "GW6000-EH": dict(   # no battery; no meter block captured: answered as zeros
        battery_soc_pct=None, battery_power_w=0.0, battery_voltage_v=None, battery_current_a=None,
        battery_temp_c=None, pv_power_w=1548.0, grid_power_w=164.0, grid_voltage_v=236.6,
        house_consumption_w=1725.0, grid_import_total_kwh=None, grid_export_total_kwh=None,
        pv_energy_today_kwh=22.0, house_consumption_total_kwh=70.1, house_consumption_dc_w=1712.0,
        inverter_loss_w=-13.0, backup_load_w=0.0, battery2_power_w=None, house_consumption_today_kwh=27.1,
        battery_charge_total_kwh=None, battery_discharge_total_kwh=None, battery_charge_today_kwh=None,
        battery_discharge_today_kwh=None, pv_energy_total_kwh=59.4, inverter_ac_import_today_kwh=0.0,
        inverter_ac_export_today_kwh=21.6, inverter_ac_import_total_kwh=0.0, inverter_ac_export_total_kwh=58.6,
        battery_mode=None, inverter_time="2021-08-08T18:40:09"),
}


async def converted(scenario: str):
    """(raw sensor dict, snapshot) of a runtime capture."""
    _, raw = await replay(scenario)
    return raw, snapshot_from_sensors(raw, TS)


def test_every_capture_file_is_replayed_and_licensed():
    used = {answer for answers in SCENARIOS.values() for answer in answers.values() if answer.endswith(".hex")}
    assert used == {p.name for p in CAPTURES.glob("*.hex")}
    assert "MIT License" in (CAPTURES / "LICENSE-goodwe").read_text()


@pytest.mark.parametrize("scenario, model, serial, rated_w", [
    ("GW10K-ET fw617", "GW10K-ET", "9010KETU000W0000", 10000),
    ("GW10K-ET fw819", "0GW10K-ET", "9010KETU00000000", 10000),
    ("GW10K-ET fw1023", "GW10K-ET", "9010KETU000W0000", 10000),
    ("GW20K-ET", "", "9020KETT232W0000", 20000),
    ("GW6000-EH", "GW6000-EH", "00000EHU00000000", 6000),
])
async def test_device_info(scenario, model, serial, rated_w):
    inverter = CaptureET(scenario)
    await inverter.read_device_info()
    assert (inverter.model_name, inverter.serial_number, inverter.rated_power) == (model, serial, rated_w)


@pytest.mark.parametrize("scenario, cls, power_pct", [("GW10K-ET fw617", "EcoModeV1", 20),
                                                      ("GW10K-ET fw819", "EcoModeV2", 20)])
async def test_eco_mode_blocks(scenario, cls, power_pct):
    inverter = CaptureET(scenario)
    await inverter.read_device_info()
    group = await inverter.read_setting("eco_mode_1")
    assert type(group).__name__ == cls and group.power == power_pct and (group.start_h, group.end_h) == (0, 23)


@pytest.mark.parametrize("scenario", RUNTIME)
async def test_field_by_field(scenario):
    _, snap = await converted(scenario)
    got = {**snap.energy_fields(), **snap.extras()}
    assert got.pop("ts") == TS
    assert got == EXPECTED[scenario]
    assert set(ENERGY_FIELDS) <= set(EXPECTED[scenario])


@pytest.mark.parametrize("scenario", RUNTIME)
async def test_signs(scenario):
    raw, snap = await converted(scenario)
    assert snap.grid_power_w == -raw["active_power"]               # goodwe: > 0 export; gdpo: > 0 import
    label = raw["grid_in_out_label"]
    assert {"Importing": snap.grid_power_w > 0, "Exporting": snap.grid_power_w < 0,
            "Idle": abs(snap.grid_power_w) < 50}[label]
    assert snap.battery_power_w == -raw["pbattery1"] or snap.battery_power_w == 0.0 == raw["pbattery1"]
    mode = raw["battery_mode_label"]
    assert {"Charge": snap.battery_power_w > 0, "Discharge": snap.battery_power_w < 0,
            "No battery": snap.battery_power_w == 0}[mode]
    if snap.battery_current_a is not None:
        assert snap.battery_current_a * snap.battery_power_w >= 0


@pytest.mark.parametrize("scenario", RUNTIME)
async def test_house_load_is_the_ac_side(scenario):
    raw, snap = await converted(scenario)
    assert snap.house_consumption_w == raw["total_inverter_power"] - raw["active_power"]
    if raw["load_ptotal"] and scenario != "GW20K-ET":
        # the AC side is what the load and backup ports take, to the watt
        assert snap.house_consumption_w == raw["load_ptotal"] + raw["backup_ptotal"]
    else:
        # GW20K-ET leaves its load total at 0: the per-phase loads add up to the AC side
        assert raw["load_ptotal"] == 0
        phases = sum(raw[f"load_p{i}"] for i in (1, 2, 3))
        assert abs(snap.house_consumption_w - phases) <= 1
    # the library's DC-side sum is kept apart, and the difference is the inverter's losses
    assert snap.house_consumption_dc_w == raw["house_consumption"]
    assert snap.house_consumption_w + snap.inverter_loss_w == snap.house_consumption_dc_w
    assert snap.backup_load_w == raw["backup_ptotal"]


async def test_losses_are_not_house_load_on_the_gw10k():
    raw, snap = await converted("GW10K-ET fw617")
    assert raw["house_consumption"] == 947 and snap.house_consumption_w == 834.0
    assert snap.inverter_loss_w == 113.0                              # 13.5 % of the load


@pytest.mark.parametrize("scenario", RUNTIME)
async def test_grid_energy_only_from_the_meter(scenario):
    raw, snap = await converted(scenario)
    fields = {**snap.energy_fields(), **snap.extras()}
    meter = (raw["meter_e_total_imp"], raw["meter_e_total_exp"])
    if meter == (0.0, 0.0):
        assert (snap.grid_import_total_kwh, snap.grid_export_total_kwh) == (None, None)
    else:
        assert (snap.grid_import_total_kwh, snap.grid_export_total_kwh) == meter
    # the AC-port counters are kept under their own names, never as grid energy
    assert snap.inverter_ac_export_total_kwh == raw["e_total_exp"]
    assert snap.inverter_ac_import_today_kwh == raw["e_day_imp"]
    assert not any(name.startswith("grid_") and "today" in name for name in fields)


async def test_ac_port_counter_is_not_the_meter():
    raw, snap = await converted("GW10K-ET fw617")
    assert raw["e_total_exp"] == 4718.6 and snap.grid_export_total_kwh == 10.514


@pytest.mark.parametrize("scenario", RUNTIME)
async def test_battery_counters(scenario):
    raw, snap = await converted(scenario)
    if raw["battery_mode"] == 0:
        assert snap.battery_charge_total_kwh is None and snap.battery_discharge_today_kwh is None
    else:
        assert snap.battery_charge_total_kwh == raw["e_bat_charge_total"]
        assert snap.battery_discharge_total_kwh == raw["e_bat_discharge_total"]
        assert snap.battery_charge_today_kwh == raw["e_bat_charge_day"]


@pytest.mark.parametrize("scenario", RUNTIME)
async def test_stored_reading_keeps_unknowns_and_lifetime_counters(scenario):
    """The record the collector writes, read back as Telemetry: unknown stays None, and the
    session meter's battery counter is the lifetime one."""
    _, snap = await converted(scenario)
    payload = {k: v for k, v in snap.extras().items() if v is not None}
    t = Telemetry.from_mapping(make_record("energy_data", {**snap.energy_fields(), "payload": payload}))
    assert t.grid_import_total_kwh == snap.grid_import_total_kwh
    assert t.grid_export_total_kwh == snap.grid_export_total_kwh
    assert t.battery_charge_kwh == snap.battery_charge_total_kwh
    assert t.battery_discharge_kwh == snap.battery_discharge_total_kwh
    assert t.battery_soc_pct == snap.battery_soc_pct


def test_second_battery_is_summed():
    raw = {"ppv": 4000, "pbattery1": -1500, "pbattery2": -1000, "battery_mode": 3, "battery2_mode": 3,
           "active_power": 200, "total_inverter_power": 1400, "vbattery1": 400.0, "ibattery1": -3.7}
    snap = snapshot_from_sensors(raw, TS)
    assert snap.battery_power_w == 2500.0 and snap.battery2_power_w == 1000.0
    assert snap.inverter_loss_w == 4000 - 2500 - 1400
    assert snap.house_consumption_w == 1200.0
