"""The storage conformance testkit against the json_legacy backend (a tree in tmp_path)."""

import pytest

from gdpo.storage import open_storage
from gdpo.storage.testkit import *  # noqa: F401,F403  (the conformance tests)


@pytest.fixture
def storage_factory(tmp_path):
    return lambda: open_storage({"backend": "json_legacy", "json_legacy": {"directory": str(tmp_path / "tree")}})
