"""The write pipeline: batching, write-through, explicit batches, flush before reads."""

from __future__ import annotations

import asyncio
import datetime as _dt

import pytest

from gdpo.storage.records import UTC
from gdpo.storage.testkit.samples import energy_series, full_record

from .conftest import FAR_FUTURE, FAR_PAST, in_backend

T0 = _dt.datetime(2025, 11, 17, tzinfo=UTC)


async def test_single_records_are_batched_by_size(open_memory):
    async with open_memory() as s:
        recs = energy_series(T0, 25, step_s=60)
        for r in recs[:9]:
            await s.write("energy_data", r)
        assert await in_backend(s, "energy_data") == []
        await s.write("energy_data", recs[9])
        assert len(await in_backend(s, "energy_data")) == 10
        assert s.counters.batches == 1
        for r in recs[10:]:
            await s.write("energy_data", r)
        assert len(await in_backend(s, "energy_data")) == 20
        await s.flush()
        assert len(await in_backend(s, "energy_data")) == 25
        assert s.counters.writes == 25 and s.counters.batches == 3


async def test_partial_batch_is_flushed_after_the_interval(open_memory):
    async with open_memory(batch={"flush_interval_s": 0.05}) as s:
        await s.write("system_state", {"ts": T0, "state": "monitoring"})
        assert await in_backend(s, "system_state") == []
        for _ in range(50):
            await asyncio.sleep(0.02)
            if await in_backend(s, "system_state"):
                break
        assert len(await in_backend(s, "system_state")) == 1


@pytest.mark.parametrize("kind", ["charging_sessions", "battery_selling_sessions", "coordinator_decisions",
                                  "daily_stats"])
async def test_sessions_and_decisions_are_written_through(open_memory, kind):
    async with open_memory() as s:
        await s.write(kind, full_record(kind, 0))
        assert len(await in_backend(s, kind)) == 1


async def test_large_explicit_batch_is_one_transaction(open_memory):
    async with open_memory() as s:
        await s.write("energy_data", energy_series(T0, 3, step_s=60))  # waits in the buffer
        result = await s.write("energy_data", energy_series(T0 + _dt.timedelta(hours=1), 1000, step_s=60))
        assert result.count == 1000 and result.inserted == 1000, "the caller gets the backend's result"
        assert s.counters.batches == 2, "the waiting buffer first, then the 1000 records in one batch"
        assert len(await in_backend(s, "energy_data")) == 1003


async def test_reader_sees_earlier_writes(open_memory):
    async with open_memory() as s:
        recs = energy_series(T0, 3, step_s=60)
        for r in recs:
            await s.write("energy_data", r)
        assert [r.ts for r in await s.read("energy_data", FAR_PAST, FAR_FUTURE)] == [r.ts for r in recs]
        await s.write("system_state", {"ts": T0, "state": "charging"})
        assert (await s.latest("system_state")).state == "charging"
        await s.write("energy_data", energy_series(T0 + _dt.timedelta(hours=2), 1, step_s=60))
        got = await s.aggregate("energy_data", FAR_PAST, FAR_FUTURE, every="1d", fields={"pv_power_w": "count"})
        assert sum(b["count"] for b in got) == 4


async def test_close_flushes_the_buffer(open_memory):
    async with open_memory() as s:
        await s.write("energy_data", energy_series(T0, 4, step_s=60)[0])
    async with open_memory() as s:
        assert len(await s.read("energy_data", FAR_PAST, FAR_FUTURE)) == 1


async def test_bad_payload_is_refused_at_write_time(open_memory):
    async with open_memory() as s:
        with pytest.raises((TypeError, ValueError)):
            await s.write("energy_data", {"ts": T0, "payload": {"set": {1, 2}}})
        await s.flush()
        assert await s.read("energy_data", FAR_PAST, FAR_FUTURE) == []


async def test_stats_show_counters_and_pipeline(open_memory):
    async with open_memory() as s:
        await s.write("energy_data", energy_series(T0, 1, step_s=60)[0])
        stats = await s.stats()
        assert stats["counters"]["writes"] == 1
        assert stats["backends"]["memory"]["kinds"]["energy_data"] == 1, "stats flush first"
        assert stats["pipeline"]["backends"]["memory"]["pending"] is False
