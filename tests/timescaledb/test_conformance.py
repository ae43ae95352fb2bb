"""The storage conformance testkit against a real TimescaleDB server, in both modes:
hypertables (the extension in use) and plain PostgreSQL tables (``require_timescale: false``
as a role that cannot create the extension)."""

import pytest

from gdpo.storage import open_storage
from gdpo.storage.testkit import *  # noqa: F401,F403

pytestmark = pytest.mark.timescaledb


@pytest.fixture(params=["timescaledb", "postgresql"])
def storage_factory(request, make_config):
    config = make_config(request.param)
    return lambda: open_storage(config)
