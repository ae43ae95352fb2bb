"""Fixtures of the price tests: a loopback PSE stand-in and a real Storage."""

from __future__ import annotations

import uuid

import pytest

from gdpo.storage import open_storage
from gdpo.storage.memory import drop_store
from prices.pse_fake import FakePse


@pytest.fixture
def pse():
    """A started FakePse on 127.0.0.1."""
    server = FakePse().start()
    yield server
    server.stop()


@pytest.fixture
def storage_config(memory_backend_registered):
    """A ``data_storage`` mapping of a fresh store."""
    store = f"prices-{uuid.uuid4()}"
    yield {"backend": "memory", "memory": {"store": store}}
    drop_store(store)


@pytest.fixture
async def storage(storage_config):
    """An open Storage."""
    async with open_storage(storage_config) as s:
        yield s


def prices_config(pse: FakePse, **prices) -> dict:
    """A whole-config mapping pointing at the local server, with fast retries."""
    section = {"pse_base_url": pse.base_url, "timeout_s": 2.0, "retries": 1, "retry_backoff_s": 0.01}
    section.update(prices)
    return {"prices": section}
