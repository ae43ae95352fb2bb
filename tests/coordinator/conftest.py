"""Fixtures of the coordinator tests."""

from __future__ import annotations

import uuid

import pytest

from gdpo.storage import open_storage
from gdpo.storage.memory import drop_store


@pytest.fixture
async def storage(memory_backend_registered):
    """An open Storage over a fresh in-memory reference store."""
    store = f"coord-{uuid.uuid4()}"
    async with open_storage({"backend": "memory", "memory": {"store": store}}) as s:
        yield s
    drop_store(store)
