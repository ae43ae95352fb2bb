"""Fixtures: simulated GoodWe ET inverters on loopback, and the real goodwe library against them."""

from __future__ import annotations

import goodwe
import pytest
from tests.inverter.inverter_helpers import FAST, make_device, next_udp_host

from gdpo.inverter.simulator import SimulatedInverter, SimulatorServer


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
