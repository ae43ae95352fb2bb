"""The storage conformance testkit against the SQLite backend on real files."""

import pytest

from gdpo.storage import open_storage
from gdpo.storage.testkit import *  # noqa: F401,F403  (the conformance tests)


@pytest.fixture
def storage_factory(tmp_path):
    return lambda: open_storage({"backend": "sqlite", "sqlite": {"path": str(tmp_path / "db" / "gdpo.db")}})
