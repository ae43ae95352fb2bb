"""The conformance testkit against the in-memory reference backend."""

import uuid

import pytest

from gdpo.storage import open_storage
from gdpo.storage.memory import drop_store
from gdpo.storage.testkit import *  # noqa: F401,F403


@pytest.fixture
def storage_factory(memory_backend_registered):
    store = f"test-{uuid.uuid4()}"
    yield lambda: open_storage({"backend": "memory", "memory": {"store": store}})
    drop_store(store)
