"""Fault injection: dropped packets, delays, silence, Modbus exceptions, frozen values."""

from __future__ import annotations

import time

import goodwe
import pytest
from goodwe.exceptions import RequestFailedException, RequestRejectedException

from gdpo.inverter.gateway import InverterGateway
from tests.inverter.inverter_helpers import FAST, make_device


async def test_every_third_packet_dropped_still_reads(serve):
    server = await serve(make_device(), "udp")
    server.device.faults.drop_every = 3
    inv = await goodwe.connect(*server.address, family="ET", timeout=0.2, retries=3)
    for _ in range(4):
        data = await inv.read_runtime_data()
        assert data["total_inverter_power"] - data["active_power"] == data["load_ptotal"] + data["backup_ptotal"]
    assert server.device.requests_received >= 12


async def test_gateway_recovers_from_dropped_packets_over_tcp(serve):
    server = await serve(make_device(), "tcp")
    server.device.faults.drop_every = 3
    gw = InverterGateway(*server.address, timeout=0.2, retries=3, backoff_initial_s=0.01)
    snaps = [await gw.read_snapshot() for _ in range(3)]
    assert all(s.battery_soc_pct == 50.0 for s in snaps)


async def test_delay_longer_than_timeout_is_a_failure_shorter_is_fine(serve):
    server = await serve(make_device(), "udp")
    inv = await goodwe.connect(*server.address, family="ET", **FAST)
    server.device.faults.delay_s = 0.05
    started = time.monotonic()
    await inv.read_runtime_data()
    assert time.monotonic() - started >= 0.05 * 3          # runtime, battery and meter blocks
    server.device.faults.delay_s = 0.5
    with pytest.raises(RequestFailedException):
        await inv.read_sensor("battery_soc")


async def test_silent_inverter_then_back(serve):
    server = await serve(make_device(), "udp")
    inv = await goodwe.connect(*server.address, family="ET", timeout=0.1, retries=1)
    server.device.faults.silent = True
    with pytest.raises(RequestFailedException):
        await inv.read_runtime_data()
    server.device.faults.silent = False
    assert (await inv.read_runtime_data())["battery_soc"] == 50


async def test_exception_only_for_chosen_registers(serve):
    server = await serve(make_device(), "udp")
    inv = await goodwe.connect(*server.address, family="ET", **FAST)
    server.device.faults.exception_code = 2
    server.device.faults.exception_registers = (37000, 37023)   # the battery block
    data = await inv.read_runtime_data()                        # the library then stops reading it
    assert "battery_soc" not in data
    assert data["ppv"] == 0
    server.device.faults.exception_registers = None
    server.device.faults.exception_code = 6
    with pytest.raises(RequestRejectedException, match="SLAVE DEVICE BUSY"):
        await inv.read_runtime_data()


async def test_frozen_values_do_not_change(serve):
    server = await serve(make_device(), "udp")
    inv = await goodwe.connect(*server.address, family="ET", **FAST)
    server.device.faults.frozen = True
    before = await inv.read_runtime_data()
    server.device.advance(3600)
    after = await inv.read_runtime_data()
    assert after["timestamp"] == before["timestamp"]
    assert after["e_load_total"] == before["e_load_total"]
    server.device.faults.frozen = False
    server.device.advance(3600)
    assert (await inv.read_runtime_data())["e_load_total"] > before["e_load_total"]
