"""Fixtures of the storage service tests (pipeline, spool, cache, rollups, retention)."""

from __future__ import annotations

import datetime as _dt
import uuid

import pytest

from gdpo.storage import open_storage
from gdpo.storage.aggregate import normalize_bound
from gdpo.storage.memory import drop_store
from gdpo.storage.records import UTC

FAR_PAST = _dt.datetime(1990, 1, 1, tzinfo=UTC)
FAR_FUTURE = _dt.datetime(2100, 1, 1, tzinfo=UTC)


def with_overrides(cfg: dict, overrides: dict) -> dict:
    """``cfg`` with top-level keys replaced, sub-sections merged one level deep."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def bounds(kind):
    """The widest range of ``kind``'s time axis."""
    return normalize_bound(kind, FAR_PAST), normalize_bound(kind, FAR_FUTURE)


async def in_backend(storage, kind):
    """What the backend itself holds (bypassing the pipeline)."""
    return await storage.backend_for(kind).read_range(kind, *bounds(kind))


@pytest.fixture
def memory_config(memory_backend_registered, tmp_path):
    """A function making a ``data_storage`` mapping on a fresh in-memory store, with the
    data directory (spool, status, rollups) in ``tmp_path``."""
    store = f"svc-{uuid.uuid4()}"

    def make(**overrides):
        cfg = {"backend": "memory", "memory": {"store": store}, "data_directory": str(tmp_path / "data"),
               "spool": {"retry_initial_s": 0.05, "retry_max_s": 0.2}}
        return with_overrides(cfg, overrides)

    yield make
    drop_store(store)


@pytest.fixture
def open_memory(memory_config):
    """``open_memory(**overrides)``: open_storage on the test's in-memory store."""
    return lambda background=True, **kw: open_storage(memory_config(**kw), background=background)
