"""The unmodified goodwe library against the simulator: UDP, TCP, discovery, register decoding."""

from __future__ import annotations

import time

import goodwe
import pytest
from goodwe.exceptions import RequestRejectedException

from gdpo.inverter.simulator import frames
from tests.inverter.inverter_helpers import FAST, SUMMER_NOON, make_device


def assert_balanced(data: dict) -> None:
    """The AC side (inverter port less grid) is what the load and backup ports take; the library's
    DC-side house_consumption is that plus the inverter's losses; and the meter agrees."""
    house = data["total_inverter_power"] - data["active_power"]
    assert house == data["load_ptotal"] + data["backup_ptotal"]
    assert data["backup_ptotal"] > 0
    loss = data["ppv"] + data["pbattery1"] - data["total_inverter_power"]
    assert 15 < loss < 0.1 * (data["ppv"] + abs(data["pbattery1"])) + 40
    assert data["house_consumption"] == data["ppv"] + data["pbattery1"] - data["active_power"] == house + loss
    assert data["meter_active_power_total"] == data["active_power"]
    assert data["active_power_total"] == data["active_power"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_goodwe_connects_and_reads_balanced_values(serve, transport):
    server = await serve(make_device(start=SUMMER_NOON, seed=3), transport)
    host, port = server.address
    started = time.monotonic()
    inv = await goodwe.connect(host, port, family="ET", **FAST)
    assert time.monotonic() - started < 1.0, "feature probes must be answered, not time out"
    assert inv.serial_number == "9010KETU214W0001"
    assert inv.model_name == "GW10K-ET"
    assert inv.rated_power == 10000
    assert inv.firmware == "04029-22-S11"
    data = await inv.read_runtime_data()
    assert data["ppv"] > 1000, "summer noon produces"
    assert 0 <= data["battery_soc"] <= 100
    assert data["battery_mode"] != 0
    assert_balanced(data)
    for name in ("meter_e_total_imp", "meter_e_total_exp", "e_day", "e_load_total", "e_total"):
        assert data[name] > 0 or name == "e_day"
    assert 229 <= data["vgrid"] <= 236          # nominal 230 V, rising with the inverter's output
    assert data["battery_temperature"] is not None
    assert data["timestamp"].year == 2026


async def test_counters_integrate_and_stay_balanced(serve):
    server = await serve(make_device(start=SUMMER_NOON, seed=4), "udp")
    inv = await goodwe.connect(*server.address, family="ET", **FAST)
    before = await inv.read_runtime_data()
    server.device.advance(3600)
    after = await inv.read_runtime_data()
    assert_balanced(after)
    assert after["e_day"] > before["e_day"]
    assert after["e_total"] >= before["e_total"]
    assert after["e_load_total"] >= before["e_load_total"]
    assert after["meter_e_total_imp"] >= before["meter_e_total_imp"]
    assert after["meter_e_total_exp"] >= before["meter_e_total_exp"]
    assert (after["timestamp"] - before["timestamp"]).total_seconds() == pytest.approx(3600, abs=2)


async def test_discovery_without_family_finds_an_et(udp_sim):
    inv = await goodwe.connect(*udp_sim.address, **FAST)
    assert isinstance(inv, goodwe.et.ET)
    assert inv.serial_number == "9010KETU214W0001"


async def test_aa55_discovery_frame_carries_model_and_serial(udp_sim):
    response = await goodwe.DISCOVERY_COMMAND.execute(goodwe.UdpInverterProtocol(*udp_sim.address, 0.25, 1))
    data = response.response_data()
    assert data[5:15].decode().rstrip() == "GW10K-ET"
    assert data[31:47].decode() == "9010KETU214W0001"


async def test_settings_readable_and_unknown_blocks_rejected(inverter):
    settings = await inverter.read_settings_data()
    assert settings["work_mode"] == 0
    assert settings["grid_export_limit"] == 10000
    assert settings["fast_charging"] == 0
    assert settings["time"].year == 2026
    with pytest.raises(RequestRejectedException, match="ILLEGAL DATA ADDRESS"):
        await inverter.read_sensor("modbus_40000")


async def test_write_outside_settings_is_rejected_and_not_logged(inverter, udp_sim):
    with pytest.raises(RequestRejectedException, match="ILLEGAL DATA ADDRESS"):
        await inverter.write_setting("modbus_35100", 1)
    with pytest.raises(RequestRejectedException, match="ILLEGAL DATA VALUE"):
        await inverter.write_setting("work_mode", 9)
    assert udp_sim.device.write_log == []


def test_crc_matches_the_library():
    from goodwe.modbus import _modbus_checksum, create_modbus_rtu_request

    request = create_modbus_rtu_request(0xF7, 3, 35100, 125)
    assert frames.crc16_modbus(request[:-2]) == _modbus_checksum(request[:-2])
    decoded = frames.decode_rtu(request)
    assert (decoded.unit, decoded.function, decoded.address, decoded.count) == (0xF7, 3, 35100, 125)
    with pytest.raises(frames.FrameError):
        frames.decode_rtu(request[:-1] + bytes([request[-1] ^ 1]))
