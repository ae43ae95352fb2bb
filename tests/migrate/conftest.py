"""Fixtures of the migration tests: the sample tree, its manifest, and migration targets."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest


from gdpo.storage.memory import drop_store

from tests.migrate.migrate_helpers import clear_storage  # noqa: E402

SAMPLES = Path(os.environ.get("GDPO_LEGACY_SAMPLES") or Path(__file__).resolve().parent / "legacy_samples")
REPO = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(REPO / "benchmarks"))


def _need_samples():
    if not (SAMPLES / "manifest.json").is_file():
        pytest.skip(f"legacy samples not found at {SAMPLES} (set GDPO_LEGACY_SAMPLES)")


@pytest.fixture
def manifest() -> dict:
    """The sample tree's ground truth."""
    _need_samples()
    return json.loads((SAMPLES / "manifest.json").read_text("utf-8"))


@pytest.fixture
def sample_tree(tmp_path) -> Path:
    """A private copy of the sample tree (the importer leaves files in place, archive moves them)."""
    _need_samples()
    dest = tmp_path / "legacy"
    shutil.copytree(SAMPLES / "tree", dest)
    return dest


@pytest.fixture
def real_files() -> Path:
    """The two files copied unchanged from the upstream repository."""
    _need_samples()
    return SAMPLES / "real"


def _skip_or_fail(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(params=["memory", "sqlite", "timescaledb"])
async def target_spec(request, tmp_path, memory_backend_registered):
    """A fresh migration target of each kind of backend, as a backend spec."""
    if request.param == "memory":
        store = f"t-{uuid.uuid4().hex}"
        yield f"memory:{store}"
        drop_store(store)
        return
    if request.param == "sqlite":
        import gdpo_sqlite.backend  # noqa: F401  (part of this tree: missing is an error, not a skip)

        yield f"sqlite:{tmp_path / 'target.db'}"
        return
    dsn = os.environ.get("TIMESCALEDB_TEST_DSN")
    if not dsn:
        _skip_or_fail("TIMESCALEDB_TEST_DSN is not set: no TimescaleDB server to test against")
    import gdpo_timescaledb.backend  # noqa: F401  (part of this tree: missing is an error, not a skip)

    spec = f"timescaledb:{dsn}"
    from gdpo.migrate.specs import parse_spec

    await clear_storage(parse_spec(spec).config)
    yield spec
