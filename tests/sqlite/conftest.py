"""Fixtures of the SQLite backend tests: real database files under pytest's tmp_path."""

from __future__ import annotations

import pytest

from gdpo.storage import open_storage


def sqlite_config(path, **options) -> dict:
    """A data_storage mapping for the sqlite backend at ``path``."""
    return {"backend": "sqlite", "sqlite": {"path": str(path), **options}}


@pytest.fixture(name="sqlite_config")
def sqlite_config_fixture():
    """The :func:`sqlite_config` helper, for test modules."""
    return sqlite_config


@pytest.fixture
def db_path(tmp_path):
    """Where the test's database file lives (its directory does not exist yet)."""
    return tmp_path / "data" / "gdpo.db"


@pytest.fixture
def open_sqlite(db_path):
    """``open_sqlite(**options)`` → ``open_storage`` on the test's database file."""
    return lambda path=None, **options: open_storage(sqlite_config(path or db_path, **options))
