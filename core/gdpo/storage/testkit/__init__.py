"""The storage conformance suite: one set of tests every backend runs.

In the way SQLAlchemy's dialect compliance suite works, a backend's test module imports
the tests and provides one fixture, ``storage_factory``: a function that returns an async
context manager yielding an open :class:`~gdpo.storage.Storage` on a location private to
the test (calling it again in the same test opens the same location again)::

    import pytest
    from gdpo.storage import open_storage
    from gdpo.storage.testkit import *  # noqa: F401,F403  (the conformance tests)

    @pytest.fixture
    def storage_factory(tmp_path):
        return lambda: open_storage({"backend": "mybackend", "mybackend": {"path": str(tmp_path / "db")}})

Tests that need something a backend declares absent in its ``capabilities`` skip with a
reason starting ``capability:`` and naming the flag (``skip_capability``); that is the only
kind of skip the kit makes. Third-party backends import this module the same way; see
docs/DATABASE_ARCHITECTURE.md ("Writing a backend") for what each test proves.
"""

from gdpo.storage.testkit.suite import (  # noqa: F401
    CAPABILITY_PREFIX,
    TestAggregate,
    TestConcurrency,
    TestContentEdgeCases,
    TestDelete,
    TestIdempotency,
    TestLatest,
    TestRanges,
    TestRollups,
    TestRoundTrip,
    TestStatsAndHealth,
    skip_capability,
    storage,
)
from gdpo.storage.testkit.samples import energy_series, full_record, minimal_record  # noqa: F401
