"""The conformance kit cannot be fooled: run against a deliberately broken backend
(``faulty_backend``), it fails exactly where the fault is, and it passes the healthy wrapper."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

KIT_MODULE = '''
import uuid

import pytest

from gdpo.storage import open_storage
from gdpo.storage.memory import drop_store
from gdpo.storage.plugins import get_plugin_manager
from gdpo.storage.testkit import *  # noqa: F401,F403
from tests.testkit.faulty_backend import faulty_plugin


@pytest.fixture
def storage_factory():
    pm = get_plugin_manager()
    pm.register(faulty_plugin, name="faulty")
    store = f"faulty-{uuid.uuid4()}"
    try:
        yield lambda: open_storage({"backend": "faulty", "faulty": {"store": store, "fault": FAULT}})
    finally:
        pm.unregister(name="faulty")
        drop_store(store)
'''


def run_kit(pytester, fault: str) -> tuple[set[str], int, list[str]]:
    """Run the whole kit against the ``faulty`` backend with ``fault``: (failed test ids,
    number passed, skip reasons)."""
    pytester.syspathinsert(REPO)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_kit=f"FAULT = {fault!r}\n" + KIT_MODULE)
    rec = pytester.inline_run("-p", "no:cacheprovider")
    passed, skipped, failed = rec.listoutcomes()
    assert rec.getfailedcollections() == []
    failed_ids = {r.nodeid.split("::", 1)[1] for r in failed}
    reasons = [r.longrepr[2] for r in skipped]
    return failed_ids, len(passed), reasons


def test_healthy_wrapper_passes_the_kit(pytester):
    failed, passed, reasons = run_kit(pytester, "none")
    assert failed == set()
    assert passed > 60
    assert reasons and all(r.startswith("Skipped: capability:") for r in reasons), reasons


def test_non_atomic_batch_fails_the_failed_batch_test(pytester):
    failed, _, _ = run_kit(pytester, "non_atomic")
    assert failed == {"TestIdempotency::test_failed_batch_stores_nothing[20]",
                      "TestIdempotency::test_failed_batch_stores_nothing[300]"}


def test_fake_health_fails_the_health_test(pytester):
    failed, _, _ = run_kit(pytester, "fake_health")
    assert failed == {"TestStatsAndHealth::test_health_is_a_round_trip"}


def test_lost_write_fails_the_counting_tests(pytester):
    failed, _, _ = run_kit(pytester, "lost_write")
    expected = {
        "TestRoundTrip::test_every_field_round_trips[energy_data]",
        "TestRoundTrip::test_data_survives_reopen",
        "TestIdempotency::test_same_records_twice_stored_once[energy_data]",
        "TestStatsAndHealth::test_stats_count_per_kind",
        "TestStatsAndHealth::test_maintenance_keeps_every_record[plain]",
        "TestConcurrency::test_concurrent_writers_and_readers",
    }
    assert expected <= failed, sorted(expected - failed)


def test_maintenance_that_deletes_fails_the_maintenance_test(pytester):
    failed, _, _ = run_kit(pytester, "lossy_maintenance")
    assert failed == {"TestStatsAndHealth::test_maintenance_keeps_every_record[plain]",
                      "TestStatsAndHealth::test_maintenance_keeps_every_record[vacuum]"}
