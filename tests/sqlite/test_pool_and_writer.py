"""The reader pool, the single writer, retries, chunked deletes and maintenance."""

from __future__ import annotations

import asyncio
import datetime as _dt
import sqlite3
import threading
import time

import pytest

from gdpo.storage import StorageConnectionError, StorageError
from gdpo.storage.records import UTC
from gdpo.storage.testkit import energy_series
from gdpo_sqlite import backend as backend_module
from gdpo_sqlite import sqlerrors
from gdpo_sqlite.sqlerrors import is_transient, with_retry

START = _dt.datetime(2025, 5, 1, tzinfo=UTC)
FAR_PAST, FAR_FUTURE = _dt.datetime(1990, 1, 1, tzinfo=UTC), _dt.datetime(2100, 1, 1, tzinfo=UTC)


async def test_pool_grows_to_max_and_closes_idle_extras(open_sqlite):
    async with open_sqlite(pool={"min": 2, "max": 4, "idle_timeout_s": 1}) as storage:
        pool = storage.backends["sqlite"]._pool
        assert pool.stats()["open"] == 2
        held = [await pool.acquire() for _ in range(4)]
        assert pool.stats()["open"] == 4 and pool.stats()["in_use"] == 4
        waiter = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        assert not waiter.done(), "a fifth reader waits: max is 4"
        await pool.release(held.pop())
        held.append(await asyncio.wait_for(waiter, 2))
        for conn in held:
            await pool.release(conn)
        assert pool.stats()["open"] == 4
        await asyncio.sleep(1.8)  # the reaper runs every idle_timeout/2
        assert pool.stats()["open"] == 2 and pool.stats()["closed_idle_total"] == 2
        assert len(await storage.read("energy_data", FAR_PAST, FAR_FUTURE)) == 0


async def test_pool_size_from_environment(tmp_path, monkeypatch):
    from gdpo.storage import open_storage

    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "env" / "gdpo.db"))
    config = tmp_path / "gdpo.yaml"
    config.write_text("data_storage:\n  backend: sqlite\n")
    async with open_storage(str(config)) as storage:
        backend = storage.backends["sqlite"]
        assert backend._pool.max_size == 3 and backend.path == tmp_path / "env" / "gdpo.db"


async def test_pragmas_wal_busy_timeout_synchronous(open_sqlite):
    async with open_sqlite(synchronous="FULL", busy_timeout_ms=1234) as storage:
        backend = storage.backends["sqlite"]
        conn = backend._writer.conn
        assert (await conn.execute("PRAGMA journal_mode"))[0][0] == "wal"
        assert (await conn.execute("PRAGMA busy_timeout"))[0][0] == 1234
        assert (await conn.execute("PRAGMA synchronous"))[0][0] == 2  # FULL
        async with backend._pool.connection() as reader:
            assert (await reader.execute("PRAGMA query_only"))[0][0] == 1
    async with open_sqlite() as storage:
        conn = storage.backends["sqlite"]._writer.conn
        assert (await conn.execute("PRAGMA synchronous"))[0][0] == 1  # NORMAL


async def test_busy_from_another_process_is_retried(open_sqlite, db_path):
    """Another connection holds the write lock longer than busy_timeout: the write retries, then succeeds."""
    async with open_sqlite(busy_timeout_ms=100) as storage:
        other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
        release.start()
        t0 = time.perf_counter()
        result = await storage.write("energy_data", energy_series(START, 10))
        assert result.count == 10 and time.perf_counter() - t0 >= 0.4
        release.join()
        other.close()


async def test_busy_for_too_long_gives_a_clear_error(open_sqlite, db_path, monkeypatch):
    monkeypatch.setattr(sqlerrors, "RETRY_MAX_DELAY_S", 0.01)
    async with open_sqlite(busy_timeout_ms=20) as storage:
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StorageConnectionError, match="busy|locked"):
                await storage.write("energy_data", energy_series(START, 10))
            with pytest.raises(StorageConnectionError, match="backend sqlite is down"):  # the breaker: at once
                await storage.read("energy_data", FAR_PAST, FAR_FUTURE)
        finally:
            other.execute("COMMIT")
            other.close()
        breaker = storage.pipeline.lanes["sqlite"].breaker
        for _ in range(250):  # its probe finds the database back and closes it
            if breaker.is_closed:
                break
            await asyncio.sleep(0.02)
        assert len(await storage.read("energy_data", FAR_PAST, FAR_FUTURE)) == 0
        await storage.write("energy_data", energy_series(START, 10))  # the writer is usable again


async def test_constraint_errors_are_never_retried():
    calls = 0

    async def violates():
        nonlocal calls
        calls += 1
        raise sqlite3.IntegrityError("NOT NULL constraint failed: energy_data.payload")

    with pytest.raises(StorageError, match="constraint"):
        await with_retry(violates, "/x.db", "writing")
    assert calls == 1
    busy = sqlite3.OperationalError("database is locked")
    assert is_transient(busy) and not is_transient(sqlite3.IntegrityError("UNIQUE constraint failed"))


async def test_transient_errors_are_retried_with_backoff(monkeypatch):
    monkeypatch.setattr(sqlerrors, "RETRY_BASE_DELAY_S", 0.01)
    calls = 0

    async def flaky():
        nonlocal calls
        calls += 1
        if calls < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert await with_retry(flaky, "/x.db", "writing") == "done" and calls == 3


async def test_delete_older_than_works_in_bounded_chunks(open_sqlite, monkeypatch):
    monkeypatch.setattr(backend_module, "DELETE_CHUNK_ROWS", 100)
    series = energy_series(START, 1050)
    async with open_sqlite() as storage:
        await storage.write("energy_data", series)
        writer = storage.backends["sqlite"]._writer
        transactions = 0
        original = writer.transaction

        async def counting(work, doing):
            nonlocal transactions
            transactions += 1
            return await original(work, doing)

        writer.transaction = counting
        # a write arriving during the delete is served between two chunks (the backend's own
        # write: a small Storage.write would wait in the pipeline's buffer)
        late = energy_series(START + _dt.timedelta(days=30), 5)
        deleted, _ = await asyncio.gather(storage.delete_older_than("energy_data", series[1000].ts),
                                          storage.backends["sqlite"].write_batch("energy_data", late))
        assert deleted == 1000
        assert transactions == 11 + 1  # 10 full chunks, 1 empty, and the interleaved write
        assert len(await storage.read("energy_data", FAR_PAST, FAR_FUTURE)) == 55


async def test_maintenance_optimizes_and_vacuums(open_sqlite):
    async with open_sqlite() as storage:
        await storage.write("energy_data", energy_series(START, 5000))
        await storage.delete_older_than("energy_data", START + _dt.timedelta(days=3))
        result = (await storage.maintenance(vacuum=True))["sqlite"]
        assert result["optimize"] and result["vacuum"] and result["bytes_after"] < result["bytes_before"]
        stats = (await storage.stats())["backends"]["sqlite"]
        assert stats["freelist_pages"] == 0


async def test_vacuum_never_starts_while_writes_are_queued(open_sqlite):
    async with open_sqlite() as storage:
        backend = storage.backends["sqlite"]
        writer = backend._writer
        order = []
        original = writer.transaction

        async def slow_transaction(work, doing):
            def slow(conn):  # runs in the writer thread
                time.sleep(0.05)
                return work(conn)
            result = await original(slow, doing)
            order.append("write")
            return result

        writer.transaction = slow_transaction
        writes = [asyncio.create_task(storage.write("energy_data", energy_series(START + _dt.timedelta(days=i), 10)))
                  for i in range(5)]
        await asyncio.sleep(0)
        maintenance = asyncio.create_task(backend.maintenance(vacuum=True))
        await asyncio.gather(*writes)
        order.append("writes done")
        result = await maintenance
        assert result["vacuum"] and order[:6] == ["write"] * 5 + ["writes done"]

        async def busy_forever():
            while True:
                await backend.write_batch("energy_data", energy_series(START, 1))  # past the pipeline's buffer

        with pytest.raises(StorageError, match="VACUUM not started"):
            async def vacuum_soon():
                return await writer.exclusive(lambda conn: conn.execute("VACUUM"), "VACUUM", require_idle=True,
                                              wait_for_idle_s=0.3)
            hog = [asyncio.create_task(busy_forever()) for _ in range(3)]
            await asyncio.sleep(0.01)
            try:
                await vacuum_soon()
            finally:
                for h in hog:
                    h.cancel()
                await asyncio.gather(*hog, return_exceptions=True)


async def test_a_cancelled_waiter_passes_its_turn_on(open_sqlite):
    async with open_sqlite(pool={"min": 1, "max": 1}) as storage:
        pool = storage.backends["sqlite"]._pool
        held = await pool.acquire()
        first = asyncio.create_task(pool.acquire())
        second = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        await pool.release(held)  # wakes `first` ...
        first.cancel()  # ... which is cancelled before it runs
        conn = await asyncio.wait_for(second, 2)
        await pool.release(conn)
        assert first.cancelled()
