"""Fixtures of the coordinator tests."""

from __future__ import annotations

import uuid

import pytest

from gdpo.inverter.simulator import start_simulator
from gdpo.storage import open_storage
from gdpo.storage.memory import drop_store
from tests.coordinator.helpers import SIM_T0


@pytest.fixture
async def storage(memory_backend_registered):
    """An open Storage over a fresh in-memory reference store."""
    store = f"coord-{uuid.uuid4()}"
    async with open_storage({"backend": "memory", "memory": {"store": store}}) as s:
        yield s
    drop_store(store)


@pytest.fixture
async def sim():
    """An inverter simulator on loopback, its clock at ``SIM_T0``."""
    server = await start_simulator("127.0.0.1", 0, seed=3, start=SIM_T0)
    try:
        yield server
    finally:
        await server.stop()
