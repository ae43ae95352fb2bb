"""Hybrid routing over any two registered backends: the conformance testkit on
hybrid(memory, memory2) (two instances of the reference backend under two names), and the
routing itself."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gdpo.storage import SESSION_KINDS, TIMESERIES_KINDS, hookimpl, open_storage, routes_for
from gdpo.storage.breaker import BackendDownError
from gdpo.storage.memory import MemoryBackend, drop_store
from gdpo.storage.options import Option
from gdpo.storage.plugins import get_plugin_manager
from gdpo.storage.testkit import *  # noqa: F401,F403
from gdpo.storage.testkit.samples import full_record

from .conftest import FAR_FUTURE, FAR_PAST, bounds, in_backend


class SecondMemoryPlugin:
    """The reference backend registered a second time, as ``memory2``."""

    @hookimpl
    def gdpo_register_storage_backends(self, register):
        register("memory2", MemoryBackend, description="second in-memory store",
                 options={"store": Option("str", "default", "store name")})


@pytest.fixture
def two_backends(memory_backend_registered):
    pm = get_plugin_manager()
    pm.register(SecondMemoryPlugin(), name="memory2")
    try:
        yield
    finally:
        pm.unregister(name="memory2")


@pytest.fixture
def hybrid_config(two_backends, tmp_path):
    a, b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    yield {"backend": "hybrid", "hybrid": {"sessions": "memory", "timeseries": "memory2"},
           "memory": {"store": a}, "memory2": {"store": b}, "data_directory": str(tmp_path / "data")}
    drop_store(a)
    drop_store(b)


@pytest.fixture
def storage_factory(hybrid_config):
    return lambda: open_storage(hybrid_config)


async def test_each_kind_goes_to_its_owner(hybrid_config):
    async with open_storage(hybrid_config) as s:
        for kind in SESSION_KINDS + TIMESERIES_KINDS:
            await s.write(kind, [full_record(kind, i) for i in range(12)])
        for kind in SESSION_KINDS:
            assert s.routes[kind] == "memory"
            assert len(await in_backend(s, kind)) == 12
            assert await s.backends["memory2"].read_range(kind, *bounds(kind)) == []
        for kind in TIMESERIES_KINDS:
            assert s.routes[kind] == "memory2"
            assert len(await in_backend(s, kind)) == 12


async def test_per_kind_route_override(hybrid_config):
    hybrid_config["hybrid"]["routes"] = {"daily_stats": "memory2"}
    assert routes_for(hybrid_config)["daily_stats"] == "memory2"
    async with open_storage(hybrid_config) as s:
        await s.write("daily_stats", full_record("daily_stats", 0))
        assert len(await s.backends["memory2"].read_range("daily_stats", *bounds("daily_stats"))) == 1


async def test_one_backend_down_does_not_stop_the_other(hybrid_config):
    hybrid_config["spool"] = {"retry_initial_s": 0.05, "retry_max_s": 0.2}
    async with open_storage(hybrid_config) as s:
        await s.backends["memory2"].close()
        await s.write("energy_data", [full_record("energy_data", 0)])
        await s.write("charging_sessions", [full_record("charging_sessions", 0)])
        await s.flush()
        assert len(await in_backend(s, "charging_sessions")) == 1
        assert len(await s.read("charging_sessions", FAR_PAST, FAR_FUTURE)) == 1
        assert s.pipeline.lanes["memory2"].pending and not s.pipeline.lanes["memory"].pending
        with pytest.raises(BackendDownError, match="backend memory2 is down"):
            await s.read("energy_data", FAR_PAST, FAR_FUTURE)
        await s.backends["memory2"].open()
        for _ in range(100):  # the breaker's probe finds it back and replays the spool
            if s.pipeline.lanes["memory2"].breaker.is_closed and not s.pipeline.lanes["memory2"].pending:
                break
            await asyncio.sleep(0.02)
        assert len(await s.read("energy_data", FAR_PAST, FAR_FUTURE)) == 1

