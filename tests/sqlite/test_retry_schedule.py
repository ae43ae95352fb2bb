"""The busy retry of SQLite operations: its schedule, its limit, and a success path without tenacity."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from gdpo.storage import StorageConnectionError, StorageError
from gdpo_sqlite import sqlerrors
from gdpo_sqlite.sqlerrors import with_retry


def _busy_for(failures: int):
    calls = []

    async def operation():
        calls.append(1)
        if len(calls) <= failures:
            raise sqlite3.OperationalError("database is locked")
        return "done"
    return operation, calls


async def test_waits_double_from_the_base_up_to_the_cap_with_jitter(monkeypatch, caplog):
    monkeypatch.setattr(sqlerrors, "RETRY_BASE_DELAY_S", 0.002)
    monkeypatch.setattr(sqlerrors, "RETRY_MAX_DELAY_S", 0.008)
    operation, calls = _busy_for(5)
    with caplog.at_level(logging.WARNING, logger="gdpo_sqlite"):
        assert await with_retry(operation, "/x.db", "writing") == "done"
    assert len(calls) == 6
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert [r.args[3] for r in retries] == [1, 2, 3, 4, 5]  # "retry n/5"
    assert all(r.args[4] == 5 for r in retries)
    for n, record in enumerate(retries, start=1):
        nominal = min(0.008, 0.002 * 2 ** (n - 1))
        assert 0.5 * nominal <= record.args[5] <= 1.5 * nominal, (n, record.args[5])
    assert "/x.db: database is locked while writing; retry 1/5 in" in retries[0].getMessage()


async def test_gives_up_after_the_attempts_with_a_connection_error(monkeypatch):
    monkeypatch.setattr(sqlerrors, "RETRY_BASE_DELAY_S", 0.001)
    operation, calls = _busy_for(100)
    with pytest.raises(StorageConnectionError, match=r"/x\.db: still busy after 6 attempts while writing"):
        await with_retry(operation, "/x.db", "writing")
    assert len(calls) == 6
    operation, calls = _busy_for(100)
    with pytest.raises(StorageConnectionError):
        await with_retry(operation, "/x.db", "writing", attempts=2)
    assert len(calls) == 2


async def test_an_error_that_is_not_transient_after_a_busy_one_ends_the_retries(monkeypatch):
    monkeypatch.setattr(sqlerrors, "RETRY_BASE_DELAY_S", 0.001)
    calls = []

    async def operation():
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        raise sqlite3.IntegrityError("UNIQUE constraint failed: energy_data.ts")

    with pytest.raises(StorageError, match="constraint violated while writing") as caught:
        await with_retry(operation, "/x.db", "writing")
    assert len(calls) == 2 and not isinstance(caught.value, StorageConnectionError)


async def test_the_success_path_does_not_build_a_retrying_object(monkeypatch):
    # every read and write passes here: tenacity (some 20 µs a call) only after a failure
    def no_tenacity(*args, **kwargs):
        raise AssertionError("tenacity used on the success path")

    monkeypatch.setattr(sqlerrors, "AsyncRetrying", no_tenacity)

    async def fine():
        return 42

    assert await with_retry(fine, "/x.db", "reading") == 42
