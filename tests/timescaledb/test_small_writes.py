"""The small-batch write path: one prepared statement for batches of a few records."""

import datetime as dt

import pytest

from gdpo.storage import UTC, open_storage
from gdpo.storage.records import KIND_NAMES
from gdpo.storage.testkit import full_record, minimal_record
from gdpo_timescaledb.writes import SMALL_BATCH_MAX

pytestmark = pytest.mark.timescaledb

FAR_PAST = dt.datetime(1990, 1, 1, tzinfo=UTC)
FAR_FUTURE = dt.datetime(2100, 1, 1, tzinfo=UTC)


def _paths(storage):
    return dict(storage.backends["timescaledb"].write_paths)


async def _read_all(storage, kind):
    if kind == "daily_stats":
        return await storage.read(kind, FAR_PAST.date(), FAR_FUTURE.date())
    return await storage.read(kind, FAR_PAST, FAR_FUTURE)


@pytest.mark.parametrize("kind", KIND_NAMES)
async def test_a_single_record_takes_the_small_path_and_round_trips(make_config, kind):
    full, minimal = full_record(kind, 0), minimal_record(kind, 1)
    async with open_storage(make_config()) as s:
        backend = s.backends["timescaledb"]
        first = await backend.write_batch(kind, [full])
        second = await backend.write_batch(kind, [minimal])
        assert (first.count, first.inserted, second.count, second.inserted) == (1, 1, 1, 1)
        assert _paths(s) == {"small": 2}
        rows = await _read_all(s, kind)
    assert [r.to_dict() for r in rows] == [full.to_dict(), minimal.to_dict()]


@pytest.mark.parametrize("mode", ["timescaledb", "postgresql"])
async def test_a_small_batch_with_a_repeated_key_keeps_the_last(make_config, mode):
    recs = [full_record("coordinator_decisions", i) for i in range(5)]
    last = recs[2].replace(payload={"version": 2})
    batch = recs[:3] + [recs[2].replace(payload={"version": 1})] + recs[3:] + [last]
    async with open_storage(make_config(mode)) as s:
        result = await s.backends["timescaledb"].write_batch("coordinator_decisions", batch)
        assert (result.count, result.inserted) == (5, 5)
        assert _paths(s) == {"small": 1}
        rows = await _read_all(s, "coordinator_decisions")
    assert [r.to_dict() for r in rows] == [r.to_dict() for r in recs[:2] + [last] + recs[3:]]


async def test_a_rewrite_takes_the_small_path_and_updates_in_place(make_config):
    recs = [full_record("charging_sessions", i) for i in range(3)]
    changed = recs[1].replace(status="completed", payload={"note": "zakończona ładowanie"})
    async with open_storage(make_config()) as s:
        backend = s.backends["timescaledb"]
        await backend.write_batch("charging_sessions", recs)
        again = await backend.write_batch("charging_sessions", [changed])
        mixed = await backend.write_batch("charging_sessions", [recs[0], full_record("charging_sessions", 3)])
        assert (again.count, again.inserted, mixed.count, mixed.inserted) == (1, 0, 2, 1)
        assert _paths(s) == {"small": 3}
        rows = await _read_all(s, "charging_sessions")
    assert [r.to_dict() for r in rows] == \
        [r.to_dict() for r in (recs[0], changed, recs[2], full_record("charging_sessions", 3))]


async def test_the_threshold_separates_the_paths(make_config):
    recs = [full_record("energy_data", i) for i in range(2 * SMALL_BATCH_MAX + 1)]
    async with open_storage(make_config()) as s:
        backend = s.backends["timescaledb"]
        await backend.write_batch("energy_data", recs[:SMALL_BATCH_MAX])
        await backend.write_batch("energy_data", recs[SMALL_BATCH_MAX:])
        assert _paths(s) == {"small": 1, "append": 1}
        assert (await s.stats())["backends"]["timescaledb"]["write_batches"] == {"small": 1, "append": 1}
        assert len(await _read_all(s, "energy_data")) == len(recs)
