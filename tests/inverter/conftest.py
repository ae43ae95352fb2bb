"""Fixtures: simulated GoodWe ET inverters on loopback, and the real goodwe library against them.

UDP simulators bind port 8899 on their own 127.x.y.z address (all of 127/8 is loopback on
Linux), so tests never share one; TCP simulators take an ephemeral port.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

import goodwe
import pytest

from gdpo.inverter.simulator import PlantConfig, SimulatedInverter, SimulatorConfig, SimulatorServer

UTC = dt.timezone.utc
NIGHT = dt.datetime(2026, 1, 14, 1, 0, tzinfo=UTC)        # no PV: battery and grid only
SUMMER_NOON = dt.datetime(2026, 6, 21, 10, 30, tzinfo=UTC)  # 12:30 in Warsaw
WINTER_NOON = dt.datetime(2026, 12, 21, 10, 30, tzinfo=UTC)

_second_octet = 100 + os.getpid() % 100
_addresses = itertools.count(2)

FAST = {"timeout": 0.25, "retries": 2}


def next_udp_host() -> str:
    """A loopback address no other test of this run uses."""
    n = next(_addresses)
    return f"127.{_second_octet}.{n // 250}.{n % 250 + 2}"


def make_device(*, start=NIGHT, speed=1.0, seed=7, **plant) -> SimulatedInverter:
    """A simulated inverter (not yet listening)."""
    return SimulatedInverter(SimulatorConfig(plant=PlantConfig(**plant), speed=speed, seed=seed, start=start))


@pytest.fixture
async def serve():
    """``await serve(device, transport="udp"|"tcp")`` -> a started server; all stopped after the test."""
    servers: list[SimulatorServer] = []

    async def start(device: SimulatedInverter | None = None, transport: str = "udp") -> SimulatorServer:
        device = device or make_device()
        if transport == "udp":
            server = SimulatorServer(device, next_udp_host(), 8899)
        else:
            server = SimulatorServer(device, "127.0.0.1", 0)
        servers.append(await server.start())
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def udp_sim(serve):
    """A night-time simulator on UDP 8899."""
    return await serve(make_device(), "udp")


@pytest.fixture
async def inverter(udp_sim):
    """The real goodwe ET object connected to ``udp_sim``."""
    host, port = udp_sim.address
    return await goodwe.connect(host, port, family="ET", **FAST)
