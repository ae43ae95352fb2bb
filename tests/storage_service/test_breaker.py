"""The per-backend breaker: an outage fails fast, only connection errors count as an outage,
other refused batches are quarantined. On a real SQLite file: the outage is another
connection holding the write lock (``BEGIN EXCLUSIVE``), the bad batch is one a trigger
refuses (a constraint violation)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import logging
import sqlite3
import time

import pytest

from gdpo.storage import open_storage
from gdpo.storage.breaker import CLOSED, HALF_OPEN, OPEN, BackendDownError, Breaker, is_connection_error
from gdpo.storage.errors import RecordValidationError, StorageConnectionError, StorageError
from gdpo.storage.quarantine import read_quarantine
from gdpo.storage.records import UTC
from gdpo.storage.spool import SpoolError, decode_batch, encode_batch
from gdpo.storage.testkit.samples import energy_series, full_record

from .conftest import FAR_FUTURE, FAR_PAST, in_backend

T0 = _dt.datetime(2025, 11, 17, tzinfo=UTC)


class Clock:
    """A hand-moved monotonic clock for the state machine."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


# ----------------------------------------------------------------------------- the state machine

def test_breaker_opens_backs_off_doubling_to_the_cap_and_closes_on_success():
    clock = Clock()
    b = Breaker("tsdb", initial_s=1, max_s=60, clock=clock)
    assert b.state == CLOSED and b.allow() and b.allow()
    b.failure("StorageConnectionError: refused")
    assert b.state == OPEN and not b.allow() and b.retry_in_s() == 1.0
    b.failure("again")  # a call that started before it opened: the schedule stands
    assert b.retry_in_s() == 1.0 and b.last_error == "again"
    clock.t += 1.0
    assert b.allow() and b.state == HALF_OPEN
    assert not b.allow(), "one probe at a time"
    delays = []
    for _ in range(8):  # every failed probe doubles the backoff, up to 60 s
        b.failure("refused")
        delays.append(b.retry_in_s())
        clock.t += b.retry_in_s()
        assert b.allow()
    assert delays == [2, 4, 8, 16, 32, 60, 60, 60]
    assert b.success() and b.state == CLOSED and b.down_since is None
    assert not b.success(), "already closed"
    b.failure("refused")
    assert b.retry_in_s() == 1.0, "a new outage starts from the initial backoff"
    assert b.opened_count == 2


def test_down_error_names_backend_since_next_try_and_cause():
    clock = Clock()
    b = Breaker("timescaledb", initial_s=4, clock=clock, wall=lambda: 1764763200.0)
    b.failure("StorageConnectionError: timescaledb at host:5432: server unreachable")
    clock.t += 1.5
    err = b.down_error()
    assert isinstance(err, StorageConnectionError)
    assert str(err) == ("backend timescaledb is down (since 2025-12-03T12:00:00+00:00, next try in 2.5 s): "
                        "StorageConnectionError: timescaledb at host:5432: server unreachable")
    assert b.describe()["state"] == "open" and b.describe()["next_try_in_s"] == 2.5


def test_only_connection_class_errors_are_an_outage():
    assert is_connection_error(StorageConnectionError("x"))
    assert is_connection_error(ConnectionRefusedError(111, "refused"))
    assert is_connection_error(TimeoutError())
    assert is_connection_error(asyncio.TimeoutError())
    assert not is_connection_error(StorageError("constraint violated"))
    assert not is_connection_error(RecordValidationError("energy_data", "ts", "bad"))
    assert not is_connection_error(ValueError("a bug"))
    assert not is_connection_error(KeyError("a bug"))
    assert not is_connection_error(SpoolError("the spool is full"))


# ----------------------------------------------------------------------------- real SQLite

def sqlite_config(tmp_path, **spool):
    return {"backend": "sqlite", "data_directory": str(tmp_path / "data"),
            "sqlite": {"path": str(tmp_path / "db" / "gdpo.db"), "busy_timeout_ms": 20},
            "spool": {"retry_initial_s": 0.2, "retry_max_s": 0.4, **spool}}


class WriteLock:
    """Another connection holding the database's write lock: the database cannot be written."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def take(self):
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self):
        self.conn.execute("ROLLBACK")
        self.conn.close()


async def wait_recovered(storage, name="sqlite", timeout_s=10.0):
    lane = storage.pipeline.lanes[name]
    deadline = time.monotonic() + timeout_s
    while (not lane.breaker.is_closed or lane.pending) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return lane.breaker.is_closed and not lane.pending


async def test_a_locked_sqlite_database_fails_fast_and_everything_is_stored_once(tmp_path):
    cfg = sqlite_config(tmp_path)
    prices = [full_record("price_forecasts", i) for i in range(3)]
    energy = energy_series(T0, 40, step_s=60)
    async with open_storage(cfg) as s:
        await s.write("price_forecasts", prices)
        await s.write("energy_data", energy[:10])
        cached_price = await s.latest("price_forecasts")  # now cached
        lock = WriteLock(tmp_path / "db" / "gdpo.db")
        await asyncio.to_thread(lock.take)
        try:
            sessions = [full_record("charging_sessions", i) for i in range(4)]
            t0 = time.perf_counter()
            await s.write("charging_sessions", sessions[0])  # write-through: waits the busy retries once
            first_s = time.perf_counter() - t0
            lane = s.pipeline.lanes["sqlite"]
            assert lane.breaker.state == OPEN and lane.pending
            timings = []
            for r in energy[10:]:  # the coordinator's minute writes: fast, spooled, backend untouched
                t0 = time.perf_counter()
                await s.write("energy_data", r)
                timings.append(time.perf_counter() - t0)
            for r in sessions[1:]:
                t0 = time.perf_counter()
                await s.write("charging_sessions", r)
                timings.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await s.flush()
            timings.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with pytest.raises(BackendDownError, match=r"backend sqlite is down \(since .*, next try in .* s\)"):
                await s.read("energy_data", FAR_PAST, FAR_FUTURE)
            timings.append(time.perf_counter() - t0)
            with pytest.raises(BackendDownError):  # an explicit batch is refused at once too
                await s.write("energy_data", energy_series(T0 + _dt.timedelta(days=1), 20, step_s=60))
            assert await s.latest("price_forecasts") == cached_price, "the cache answers while it is down"
            status = s.status()["backends"]["sqlite"]
            assert status["breaker"]["state"] in ("open", "half-open") and status["quarantine"]["batches"] == 0
        finally:
            await asyncio.to_thread(lock.release)
        assert max(timings) < 0.1, f"during the outage nothing may wait a timeout: {timings}"
        assert first_s < 5
        assert await wait_recovered(s), s.pipeline.lanes["sqlite"].breaker.describe()
        got = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
        got_sessions = await s.read("charging_sessions", FAR_PAST, FAR_FUTURE)
        counters = s.counters.snapshot()
    assert [r.ts for r in got] == [r.ts for r in energy], "0 lost, 0 duplicated, in order"
    assert sorted(r.session_id for r in got_sessions) == sorted(r.session_id for r in sessions)
    assert counters["spooled"] == 30 + 4 and counters["replayed"] == 34 and counters["quarantined"] == 0


async def test_a_spool_replayed_twice_stores_each_record_once(tmp_path):
    """The backends upsert on the natural key: a crash after a replay wrote a segment but
    before it was deleted replays it again, harmlessly."""
    recs = energy_series(T0, 12, step_s=60)
    async with open_storage(sqlite_config(tmp_path)) as s:
        line = encode_batch("energy_data", recs)
        for _ in range(2):
            await s.backend_for("energy_data").write_batch("energy_data", decode_batch(line)[1])
        assert len(await in_backend(s, "energy_data")) == 12


BAD_PV_W = 6666.0


async def refuse_bad_rows(storage):
    """A trigger refusing one value: a constraint violation, not an outage."""
    backend = storage.backend_for("energy_data")

    def create():
        with sqlite3.connect(backend.path, isolation_level=None) as conn:
            conn.execute(f"CREATE TRIGGER refuse_bad BEFORE INSERT ON energy_data WHEN NEW.pv_power_w = {BAD_PV_W} "
                         f"BEGIN SELECT RAISE(ABORT, 'pv_power_w {BAD_PV_W} refused'); END")
        conn.close()

    await asyncio.to_thread(create)


async def test_a_refused_batch_is_quarantined_and_the_backend_stays_up(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="gdpo.storage.pipeline")
    good = energy_series(T0, 5, step_s=60)
    bad = [r.replace(pv_power_w=BAD_PV_W) for r in energy_series(T0 + _dt.timedelta(hours=1), 3, step_s=60)]
    later = energy_series(T0 + _dt.timedelta(hours=2), 5, step_s=60)
    async with open_storage(sqlite_config(tmp_path)) as s:
        await refuse_bad_rows(s)
        for r in good + bad:  # one buffered batch of 8, refused as a whole (one transaction)
            await s.write("energy_data", r)
        await s.flush()
        lane = s.pipeline.lanes["sqlite"]
        assert lane.breaker.is_closed and not lane.pending, "a constraint violation is not an outage"
        for r in later:
            await s.write("energy_data", r)
        await s.flush()
        stored = [r.ts for r in await s.read("energy_data", FAR_PAST, FAR_FUTURE)]
        with pytest.raises(StorageError, match="constraint violated"):  # an explicit batch: raised to the caller
            await s.write("energy_data", bad + energy_series(T0 + _dt.timedelta(hours=3), 10, step_s=60))
        assert lane.breaker.is_closed
        counters = s.counters.snapshot()
        status = await asyncio.to_thread(s.status)
        quarantined = await asyncio.to_thread(read_quarantine, lane.spool.directory)
    assert stored == [r.ts for r in later]
    assert counters["quarantined"] == 8 and counters["spooled"] == 0
    assert status["backends"]["sqlite"]["quarantine"]["batches"] == 1
    (q,) = quarantined
    assert q["kind"] == "energy_data" and q["count"] == 8 and q["backend"] == "sqlite"
    assert "constraint violated" in q["error"] and "refused" in q["error"]
    kind, records = decode_batch(json.dumps({"kind": q["kind"], "records": q["records"]}).encode())
    assert [r.ts for r in records] == [r.ts for r in good + bad], "the batch is kept whole, decodable"
    (message,) = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert f"batch {q['batch']} of 8 energy_data records" in message and "constraint violated" in message
    assert (lane.spool.directory / "quarantine.ndjson").stat().st_mode & 0o777 == 0o600


async def test_a_spooled_batch_refused_on_replay_is_quarantined_and_the_rest_replayed(tmp_path):
    good = energy_series(T0, 4, step_s=60)
    bad = [full_record("energy_data", 0).replace(ts=T0 + _dt.timedelta(hours=1), pv_power_w=BAD_PV_W)]
    async with open_storage(sqlite_config(tmp_path, retry_initial_s=0.05)) as s:
        await refuse_bad_rows(s)
        lock = WriteLock(s.backend_for("energy_data").path)
        await asyncio.to_thread(lock.take)
        try:
            await s.write("energy_data", bad)
            await s.flush()  # the outage: spooled
            for r in good:
                await s.write("energy_data", r)
            await s.flush()
            assert s.counters.spooled == 5
        finally:
            await asyncio.to_thread(lock.release)
        assert await wait_recovered(s)
        got = [r.ts for r in await s.read("energy_data", FAR_PAST, FAR_FUTURE)]
        counters = s.counters.snapshot()
        quarantined = await asyncio.to_thread(read_quarantine, s.pipeline.lanes["sqlite"].spool.directory)
    assert got == [r.ts for r in good]
    assert counters["replayed"] == 4 and counters["quarantined"] == 1
    assert [q["count"] for q in quarantined] == [1]


async def test_an_open_breaker_fails_reads_at_once_and_its_probe_closes_it(tmp_path):
    async with open_storage(sqlite_config(tmp_path)) as s:
        lane = s.pipeline.lanes["sqlite"]
        s.pipeline._note_failure(lane, StorageConnectionError("a blip"))  # the breaker alone decides
        t0 = time.perf_counter()
        with pytest.raises(BackendDownError):
            await s.read("charging_sessions", FAR_PAST, FAR_FUTURE)
        assert time.perf_counter() - t0 < 0.05
        assert await wait_recovered(s), "the probe finds the database fine and closes the breaker"
        assert await s.read("charging_sessions", FAR_PAST, FAR_FUTURE) == []
