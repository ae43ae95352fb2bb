"""The append and upsert (large batch) write paths, chunk-aware retention, aggregates and maintenance."""

import asyncio
import datetime as dt

import pytest

from gdpo.storage import UTC, StorageError, open_storage
from gdpo.storage.testkit import energy_series, full_record
from gdpo_timescaledb.writes import SMALL_BATCH_MAX

pytestmark = pytest.mark.timescaledb

START = dt.datetime(2025, 3, 1, tzinfo=UTC)
FAR_PAST = dt.datetime(1990, 1, 1, tzinfo=UTC)
FAR_FUTURE = dt.datetime(2100, 1, 1, tzinfo=UTC)
MODES = ["timescaledb", "postgresql"]


def _paths(storage):
    return dict(storage.backends["timescaledb"].write_paths)


@pytest.mark.parametrize("mode", MODES)
async def test_appends_take_the_copy_path_and_retries_stay_idempotent(make_config, mode):
    series = energy_series(START, 3000)
    async with open_storage(make_config(mode)) as s:
        first = await s.write("energy_data", series[:1000])
        second = await s.write("energy_data", series[1000:2000])
        assert _paths(s) == {"append": 2}
        assert first.inserted == second.inserted == 1000
        retried = await s.write("energy_data", series[1000:2000])  # a retry of a stored batch
        assert retried.count == 1000 and retried.inserted == 0
        overlapping = await s.write("energy_data", series[1500:3000])
        assert overlapping.inserted == 1000
        assert _paths(s) == {"append": 2, "upsert": 2}
        rows = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
    assert [r.ts for r in rows] == [r.ts for r in series]
    assert rows[1999].to_dict() == series[1999].to_dict()


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_overlapping_appends_never_duplicate(make_config, mode):
    series = energy_series(START, 4000)
    async with open_storage(make_config(mode)) as s:
        # every writer believes it appends; their ranges overlap pairwise
        await asyncio.gather(*(s.write("energy_data", series[i:i + 1500]) for i in range(0, 4000, 500)))
        rows = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
        assert len(rows) == 4000
        assert sum(_paths(s).values()) == len(range(0, 4000, 500))


async def test_repeated_keys_in_a_large_batch_use_the_upsert_path(make_config):
    series = energy_series(START, SMALL_BATCH_MAX + 10)
    async with open_storage(make_config()) as s:
        # the backend's own write path (the pipeline's buffer would merge the repeat)
        batch = series + [series[3].replace(pv_power_w=5.0)]
        result = await s.backends["timescaledb"].write_batch("energy_data", batch)
        assert result.count == len(series) and _paths(s) == {"upsert": 1}
        rows = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
    assert len(rows) == len(series) and rows[3].pv_power_w == 5.0


@pytest.mark.parametrize("mode", MODES)
async def test_an_append_refused_halfway_stores_nothing(make_config, mode):
    # the append path is one COPY statement, fed as the driver encodes: a value the driver
    # refuses near the end aborts the statement, and the connection takes the next batch
    series = energy_series(START, SMALL_BATCH_MAX + 10)
    bad = series[:-1] + [series[-1].replace(payload={"not json": object()})]
    async with open_storage(make_config(mode)) as s:
        backend = s.backends["timescaledb"]
        with pytest.raises((StorageError, TypeError)):  # the JSON encoder's TypeError, as before
            await backend.write_batch("energy_data", bad)
        assert await s.read("energy_data", FAR_PAST, FAR_FUTURE) == []
        assert (await backend.write_batch("energy_data", series)).inserted == len(series)
        assert _paths(s) == {"append": 1}
        assert len(await s.read("energy_data", FAR_PAST, FAR_FUTURE)) == len(series)


async def test_large_session_batches_always_upsert(make_config):
    async with open_storage(make_config()) as s:
        await s.write("charging_sessions", [full_record("charging_sessions", i) for i in range(SMALL_BATCH_MAX + 1)])
        assert _paths(s) == {"upsert": 1}


@pytest.mark.parametrize("mode", MODES)
async def test_delete_older_than_is_exact_across_chunks(make_config, mode):
    series = energy_series(START, 6 * 24 * 6, step_s=600)  # six days, one chunk a day
    cutoff = START + dt.timedelta(days=3, hours=7, minutes=5)
    async with open_storage(make_config(mode, chunk_interval="1 day")) as s:
        await s.write("energy_data", series)
        before = (await s.stats())["backends"]["timescaledb"]
        deleted = await s.delete_older_than("energy_data", cutoff)
        after = (await s.stats())["backends"]["timescaledb"]
        rows = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
    expected = [r.ts for r in series if r.ts >= cutoff]
    assert deleted == len(series) - len(expected)
    assert [r.ts for r in rows] == expected
    if mode == "timescaledb":
        assert after["hypertables"]["energy_data"]["chunks"] == before["hypertables"]["energy_data"]["chunks"] - 3


async def test_forecast_retention_keeps_newer_sources(make_config):
    recs = [full_record("price_forecasts", i).replace(source=src) for i in range(8) for src in ("a", "b")]
    cutoff = sorted(r.period_start for r in recs)[6]
    async with open_storage(make_config(forecast_chunk_interval="1 hour")) as s:
        await s.write("price_forecasts", recs)
        assert await s.delete_older_than("price_forecasts", cutoff) == 6
        assert len(await s.read("price_forecasts", FAR_PAST, FAR_FUTURE)) == 10


@pytest.mark.parametrize("every", ["7m", "1h", "1d", "1mo"])
async def test_both_modes_aggregate_identically(make_config, every):
    series = energy_series(dt.datetime(2025, 3, 28, tzinfo=UTC), 4 * 24 * 12, step_s=300)  # spring DST
    fields = {"pv_power_w": ["avg", "first", "last", "count"], "grid_import_total_kwh": "max"}
    results = {}
    for mode in MODES:
        async with open_storage(make_config(mode)) as s:
            await s.write("energy_data", series)
            results[mode] = await s.aggregate("energy_data", FAR_PAST, FAR_FUTURE, every=every, fields=fields)
    ts, pg = results["timescaledb"], results["postgresql"]
    assert [b["bucket"] for b in ts] == [b["bucket"] for b in pg]
    for a, b in zip(ts, pg):
        assert a["count"] == b["count"]
        for name in ("pv_power_w_avg", "pv_power_w_first", "pv_power_w_last", "grid_import_total_kwh"):
            assert a[name] == pytest.approx(b[name], rel=1e-12)


async def test_daily_stats_month_buckets(make_config):
    recs = [full_record("daily_stats", i, base=dt.datetime(2025, 1, 20, tzinfo=UTC)) for i in range(20)]
    async with open_storage(make_config()) as s:
        await s.write("daily_stats", recs)
        got = await s.aggregate("daily_stats", dt.date(2025, 1, 1), dt.date(2025, 3, 1), every="1mo",
                                fields={"total_pv_kwh": "sum"})
    # local month starts in Warsaw (+01:00 in winter)
    assert [b["bucket"] for b in got] == [dt.datetime(2024, 12, 31, 23, tzinfo=UTC),
                                          dt.datetime(2025, 1, 31, 23, tzinfo=UTC)]
    assert [b["count"] for b in got] == [12, 8]


@pytest.mark.parametrize("mode", MODES)
async def test_maintenance_deletes_nothing_and_keeps_no_aggregate_of_its_own(make_config, mode):
    now = dt.datetime.now(UTC).replace(second=0, microsecond=0)
    series = energy_series(now - dt.timedelta(days=40), 40 * 24 * 4, step_s=900)
    config = make_config(mode, chunk_interval="1 day")
    config["retention"] = {"days": 30}
    async with open_storage(config) as s:
        backend = s.backends["timescaledb"]
        await s.write("energy_data", series)
        done = (await s.maintenance())["timescaledb"]
        rows = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
        schema = config["timescaledb"]["schema"]
        old = await backend.connections.run("test", lambda c: c.fetchval(
            "SELECT to_regclass($1)", f'"{schema}".energy_data_hourly'))
    assert len(rows) == len(series), "maintenance deletes nothing: retention is the storage service's job"
    assert "retention_deleted" not in done and "hourly_rollup_hours" not in done
    assert old is None, "one rollup store: storage_rollups (the storage service's)"


@pytest.mark.parametrize("mode", MODES)
async def test_the_storage_service_is_the_one_retention_authority(make_config, mode):
    # per_kind honoured on the server, raw energy rolled up before it goes, the whole-history
    # daily aggregate unchanged, and the server's own maintenance adds no deletes of its own.
    from gdpo.storage.retention import run_retention

    now = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    first = now - dt.timedelta(days=20)
    series = energy_series(first, 20 * 24 * 4, step_s=900)
    prices = [full_record("price_forecasts", i, base=first) for i in range(0, 20 * 24 * 4, 24)]
    config = make_config(mode, chunk_interval="1 day")
    config["retention"] = {"days": 3, "per_kind": {"energy_data": 5, "price_forecasts": 3650}}
    fields = {"pv_power_w": "avg", "grid_import_total_kwh": "max"}
    async with open_storage(config) as s:
        await s.write("energy_data", series)
        await s.write("price_forecasts", prices)
        daily_before = await s.aggregate("energy_data", FAR_PAST, FAR_FUTURE, every="1d", fields=fields)
        report = await run_retention(s, now=now)
        await s.maintenance()
        raw = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
        kept_prices = await s.read("price_forecasts", FAR_PAST, FAR_FUTURE)
        daily_after = await s.aggregate("energy_data", FAR_PAST, FAR_FUTURE, every="1d", fields=fields)
    cutoff = now - dt.timedelta(days=5)
    assert raw and min(r.ts for r in raw) >= cutoff
    assert report["kinds"]["energy_data"]["records"] == len(series) - len(raw) > 0
    assert report["kinds"]["energy_data"]["rollup_hours"] >= 15 * 24
    assert len(kept_prices) == len(prices), "price_forecasts.per_kind 3650 days: nothing of 20 days goes"
    assert len(daily_after) == len(daily_before) == 21
    for a, b in zip(daily_after, daily_before):
        assert a["bucket"] == b["bucket"] and a["count"] == b["count"]
        assert a["pv_power_w"] == pytest.approx(b["pv_power_w"])
        assert a["grid_import_total_kwh"] == pytest.approx(b["grid_import_total_kwh"])
