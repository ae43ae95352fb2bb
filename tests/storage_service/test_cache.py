"""The TTL cache of the current reading and the latest price."""

from __future__ import annotations

import datetime as _dt

from gdpo.storage.cache import TTLCache
from gdpo.storage.records import UTC
from gdpo.storage.testkit.samples import energy_series, full_record

T0 = _dt.datetime(2025, 11, 17, tzinfo=UTC)


async def test_latest_reading_and_price_are_cached_until_a_write(open_memory):
    async with open_memory() as s:
        recs = energy_series(T0, 2, step_s=60)
        await s.write("energy_data", recs[0])
        assert (await s.latest("energy_data")).ts == recs[0].ts
        assert (await s.latest("energy_data")).ts == recs[0].ts
        assert (s.counters.cache_misses, s.counters.cache_hits) == (1, 1)
        await s.write("energy_data", recs[1])  # invalidates
        assert (await s.latest("energy_data")).ts == recs[1].ts
        assert (s.counters.cache_misses, s.counters.cache_hits) == (2, 1)
        await s.write("price_forecasts", full_record("price_forecasts", 0))
        await s.latest("price_forecasts")
        await s.latest("price_forecasts")
        assert s.counters.cache_hits == 2
        await s.latest("system_state")  # not a cached kind
        assert s.counters.cache_hits + s.counters.cache_misses == 5


async def test_delete_invalidates(open_memory):
    async with open_memory() as s:
        await s.write("energy_data", energy_series(T0, 1, step_s=60)[0])
        assert await s.latest("energy_data") is not None
        await s.delete_older_than("energy_data", T0 + _dt.timedelta(days=1))
        assert await s.latest("energy_data") is None


async def test_entries_expire_after_ttl():
    now = [0.0]
    cache = TTLCache(60, clock=lambda: now[0])
    calls = []

    async def load():
        calls.append(1)
        return len(calls)

    assert await cache.get_or_load("k", load) == 1
    now[0] = 59.9
    assert await cache.get_or_load("k", load) == 1
    now[0] = 60.1
    assert await cache.get_or_load("k", load) == 2
    assert cache.counters.cache_hits == 1 and cache.counters.cache_misses == 2


async def test_ttl_zero_disables_caching(open_memory):
    async with open_memory(cache={"ttl_s": 0}) as s:
        await s.write("energy_data", energy_series(T0, 1, step_s=60)[0])
        await s.latest("energy_data")
        await s.latest("energy_data")
        assert s.counters.cache_hits == 0
