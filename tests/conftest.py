"""Shared fixtures of the gdpo test suite."""

from __future__ import annotations

import pytest

from gdpo.storage.memory import drop_store, memory_plugin
from gdpo.storage.plugins import get_plugin_manager

#: pytester runs the conformance kit against broken backends (tests/testkit); skip_policy
#: makes every skip but a declared capability a failure under CI=true.
pytest_plugins = ["pytester", "tests.testkit.skip_policy"]


@pytest.fixture
def memory_backend_registered():
    """Register the in-memory reference backend as plugin ``memory`` for one test."""
    pm = get_plugin_manager()
    pm.register(memory_plugin, name="memory")
    try:
        yield
    finally:
        pm.unregister(name="memory")
