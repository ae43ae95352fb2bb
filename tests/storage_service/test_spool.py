"""The outage spool: a backend that is down (the reference backend, closed) gets its batches
spooled durably, replayed in order and idempotently on recovery and at the next start."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json

import pytest

from gdpo.storage.errors import StorageConnectionError
from gdpo.storage.records import UTC
from gdpo.storage.spool import Spool, decode_batch, encode_batch
from gdpo.storage.testkit.samples import energy_series, full_record

from .conftest import FAR_FUTURE, FAR_PAST, in_backend

T0 = _dt.datetime(2025, 11, 17, tzinfo=UTC)


def spool_files(storage):
    return sorted(p.name for p in storage.pipeline.lanes["memory"].spool.directory.glob("0*"))


async def wait_for(predicate, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if await predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_outage_spools_and_recovery_replays_everything_once(open_memory):
    async with open_memory() as s:
        backend = s.backend_for("energy_data")
        await backend.close()  # the database goes away
        recs = energy_series(T0, 35, step_s=60)
        for r in recs:
            await s.write("energy_data", r)
        sessions = [full_record("charging_sessions", i) for i in range(3)]
        for r in sessions:
            await s.write("charging_sessions", r)  # write-through: spooled at once
        await s.flush()
        assert s.counters.spooled == 38 and spool_files(s)
        lane = s.pipeline.lanes["memory"]
        assert lane.pending and lane.last_error
        await asyncio.sleep(0.15)  # a retry or two fail while it is down
        await backend.open()  # the database is back
        assert await wait_for(lambda: _empty(s)), "the retry loop replays the spool"
        assert [r.ts for r in await in_backend(s, "energy_data")] == [r.ts for r in recs]
        assert len(await in_backend(s, "charging_sessions")) == 3
        assert s.counters.replayed == 38 and s.counters.retries >= 1
        assert spool_files(s) == []


async def _empty(s):
    lane = s.pipeline.lanes["memory"]
    return lane.breaker.is_closed and not lane.pending


async def test_order_is_kept_while_the_spool_drains(open_memory):
    async with open_memory() as s:
        backend = s.backend_for("charging_sessions")
        await backend.close()
        rec = full_record("charging_sessions", 0).replace(status="active")
        await s.write("charging_sessions", rec)
        await backend.open()
        # written after the spooled version (the breaker is still open: spooled behind it):
        # must win although the spool is replayed later
        await s.write("charging_sessions", rec.replace(status="completed"))
        assert await wait_for(lambda: _empty(s)), "the probe closes the breaker and the spool is replayed"
        (got,) = await s.read("charging_sessions", FAR_PAST, FAR_FUTURE)
        assert got.status == "completed"


async def test_spool_left_by_a_crash_is_replayed_at_the_next_start(open_memory):
    async with open_memory(spool={"retry_initial_s": 60}) as s:
        backend = s.backend_for("energy_data")
        await backend.close()
        for r in energy_series(T0, 20, step_s=60):
            await s.write("energy_data", r)
        await s.write("coordinator_decisions", full_record("coordinator_decisions", 0))
        await s.flush()
        files = spool_files(s)
        assert files
        lane = s.pipeline.lanes["memory"]
        lane.spool = None  # the process dies here: nothing is replayed by this one
        s.pipeline.lanes["memory"] = lane
    async with open_memory() as s2:
        assert len(await in_backend(s2, "energy_data")) == 20
        assert len(await in_backend(s2, "coordinator_decisions")) == 1
        assert s2.counters.replayed == 21
        assert spool_files(s2) == []


async def test_explicit_batch_during_an_outage_is_refused(open_memory):
    async with open_memory() as s:
        await s.backend_for("energy_data").close()
        with pytest.raises(Exception):
            await s.write("energy_data", energy_series(T0, 100, step_s=60))
        await s.write("energy_data", energy_series(T0, 1, step_s=60))
        await s.flush()
        with pytest.raises(StorageConnectionError, match="backend memory is down .since .*next try in"):
            await s.write("energy_data", energy_series(T0, 100, step_s=60))
        await s.backend_for("energy_data").open()


async def test_full_spool_drops_oldest_energy_data_never_sessions(open_memory):
    async with open_memory(spool={"max_bytes": 16384, "segment_bytes": 4096}) as s:
        backend = s.backend_for("energy_data")
        await backend.close()
        recs = energy_series(T0, 200, step_s=60)
        sessions = [full_record("charging_sessions", i) for i in range(5)]
        for i, r in enumerate(recs):
            await s.write("energy_data", r)
            if i % 37 == 0 and sessions:
                await s.write("charging_sessions", sessions.pop())
        for r in sessions:
            await s.write("charging_sessions", r)
        await s.flush()
        assert s.counters.dropped > 0
        assert s.counters.spooled == 205
        await backend.open()
        assert await wait_for(lambda: _empty(s), timeout=5), "replayed once the breaker's probe succeeds"
        await s.read("energy_data", FAR_PAST, FAR_FUTURE)
        assert len(await in_backend(s, "charging_sessions")) == 5, "sessions are never dropped"
        kept = await in_backend(s, "energy_data")
        assert len(kept) == 200 - s.counters.dropped
        assert kept[-1].ts == recs[-1].ts, "the oldest samples go first"


def test_torn_last_line_is_skipped_and_corrupt_line_rejected(tmp_path):
    spool = Spool(tmp_path / "sp")
    good = energy_series(T0, 3, step_s=60)
    spool.append("energy_data", good)
    seg = spool.segments()[0]
    with open(seg, "ab") as f:
        f.write(b'{"kind":"energy_data","n":1,"recor')  # a crash in the middle of an append
    (sealed,) = spool.seal()
    batches = spool.read_segment(sealed)
    assert [len(b.records) for b in batches] == [3]
    with open(sealed, "wb") as f:
        f.write(b"not json\n" + encode_batch("energy_data", good))
    batches = spool.read_segment(sealed)
    assert [len(b.records) for b in batches] == [3]
    assert (tmp_path / "sp" / "rejected.ndjson").read_bytes() == b"not json\n"


def test_a_line_round_trips_every_kind():
    from gdpo.storage.records import KIND_NAMES

    for kind in KIND_NAMES:
        recs = [full_record(kind, i) for i in range(3)]
        got_kind, got = decode_batch(encode_batch(kind, recs))
        assert got_kind == kind and [r.to_dict() for r in got] == [r.to_dict() for r in recs]
        assert json.loads(encode_batch(kind, recs))["n"] == 3


def test_spool_files_are_private(tmp_path):
    spool = Spool(tmp_path / "sp")
    spool.append("energy_data", energy_series(T0, 1, step_s=60))
    assert (tmp_path / "sp").stat().st_mode & 0o777 == 0o700
    assert spool.segments()[0].stat().st_mode & 0o777 == 0o600
