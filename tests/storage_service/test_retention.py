"""Retention with hourly rollups: aggregates of deleted ranges keep answering."""

from __future__ import annotations

import datetime as _dt
import math

import pytest

from gdpo.storage.aggregate import make_spec, reference_aggregate
from gdpo.storage.records import UTC
from gdpo.storage.retention import RetentionPolicy, run_retention
from gdpo.storage.testkit.samples import energy_series, full_record

from .conftest import FAR_FUTURE, FAR_PAST

START = _dt.datetime(2025, 10, 24, 20, 0, tzinfo=UTC)  # spans the autumn DST change
DAYS = 4
NOW = START + _dt.timedelta(days=DAYS + 2, minutes=17)
FIELDS = {"pv_power_w": ["avg", "min", "max", "sum", "count", "first", "last"],
          "grid_import_total_kwh": ["first", "last"], "battery_soc_pct": "avg"}


def close(a, b):
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_same(got, want, every):
    assert [b["bucket"] for b in got] == [b["bucket"] for b in want], every
    for g, w in zip(got, want):
        assert g["count"] == w["count"], (every, g["bucket"])
        for name in w:
            if name not in ("bucket", "count"):
                assert close(g[name], w[name]), (every, g["bucket"], name, g[name], w[name])


@pytest.fixture
def series():
    recs = energy_series(START, DAYS * 24 * 60, step_s=60, seed=11)
    return [r.replace(pv_power_w=None) if i % 23 == 0 else r for i, r in enumerate(recs)]


async def write_everything(s, series):
    await s.write("energy_data", series)
    for kind in ("system_state", "coordinator_decisions", "charging_sessions", "daily_stats", "price_forecasts"):
        await s.write(kind, [full_record(kind, i, base=START) for i in range(20)])


@pytest.mark.parametrize("every", ["15m", "30m", "1h", "6h", "1d", "1mo"])
async def test_aggregates_of_deleted_ranges_keep_answering(open_memory, series, every):
    async with open_memory(retention={"days": 3}) as s:
        await write_everything(s, series)
        report = await run_retention(s, now=NOW)
        cutoff = _dt.datetime.fromisoformat(report["kinds"]["energy_data"]["cutoff"])
        assert cutoff == (NOW - _dt.timedelta(days=3)).replace(minute=0)
        assert report["kinds"]["energy_data"]["records"] == sum(r.ts < cutoff for r in series) > 0
        assert report["kinds"]["energy_data"]["rollup_hours"] > 0
        assert (await s.read("energy_data", FAR_PAST, FAR_FUTURE))[0].ts == cutoff, "raw samples are gone"
        got = await s.aggregate("energy_data", START, START + _dt.timedelta(days=DAYS), every=every, fields=FIELDS)
        spec = make_spec("energy_data", START, START + _dt.timedelta(days=DAYS), every, FIELDS)
        assert_same(got, reference_aggregate(series, spec), every)


async def test_buckets_finer_than_a_quarter_hour_only_see_raw_samples(open_memory, series):
    async with open_memory(retention={"days": 3}) as s:
        await write_everything(s, series)
        report = await run_retention(s, now=NOW)
        cutoff = _dt.datetime.fromisoformat(report["kinds"]["energy_data"]["cutoff"])
        got = await s.aggregate("energy_data", START, FAR_FUTURE, every="5m", fields={"pv_power_w": "count"})
        assert got[0]["bucket"] == cutoff
        quarters = await s.aggregate("energy_data", START, FAR_FUTURE, every="15m", fields={"pv_power_w": "count"})
        assert quarters[0]["bucket"] == START, "quarter-hours outlive the raw samples"


async def test_sessions_and_daily_stats_are_kept_decisions_configurable(open_memory, series):
    async with open_memory(retention={"days": 3}) as s:
        await write_everything(s, series)
        report = await run_retention(s, now=NOW + _dt.timedelta(days=30))
        assert set(report["kinds"]) == {"energy_data", "system_state"}
        for kind in ("coordinator_decisions", "charging_sessions", "daily_stats", "price_forecasts"):
            assert len(await s.read(kind, FAR_PAST, FAR_FUTURE)) == 20, kind
        assert await s.read("system_state", FAR_PAST, FAR_FUTURE) == []
    async with open_memory(retention={"days": 3, "keep_decisions": False,
                                      "per_kind": {"system_state": 3650}}) as s:
        report = await run_retention(s, now=NOW + _dt.timedelta(days=30))
        assert report["kinds"]["coordinator_decisions"]["records"] == 20
        assert report["kinds"]["system_state"]["days"] == 3650


async def test_dry_run_counts_and_changes_nothing(open_memory, series):
    async with open_memory(retention={"days": 3}) as s:
        await write_everything(s, series)
        report = await run_retention(s, now=NOW, dry_run=True)
        cutoff = _dt.datetime.fromisoformat(report["kinds"]["energy_data"]["cutoff"])
        assert report["kinds"]["energy_data"]["records"] == sum(r.ts < cutoff for r in series)
        assert len(await s.read("energy_data", FAR_PAST, FAR_FUTURE)) == len(series)
        assert await s.rollup_store("energy_data").rollup_bounds("energy_data") is None


async def test_rerun_and_late_samples(open_memory, series):
    async with open_memory(retention={"days": 3}) as s:
        await write_everything(s, series)
        await run_retention(s, now=NOW)
        again = await run_retention(s, now=NOW)
        assert again["kinds"]["energy_data"]["records"] == 0, "an idempotent second run"
        # a sample of an already rolled-up hour arrives late: merged into that hour
        late_ts = START + _dt.timedelta(hours=5, seconds=30)
        late = series[5 * 60].replace(ts=late_ts, pv_power_w=123456.0)
        await s.write("energy_data", [late])
        await run_retention(s, now=NOW)
        got = await s.aggregate("energy_data", START, START + _dt.timedelta(hours=6), every="1h",
                                fields={"pv_power_w": "max"})
        assert got[5]["pv_power_w"] == 123456.0 and got[5]["count"] == 61


def test_next_run_is_local_time():
    policy = RetentionPolicy(run_at="03:30")
    now = _dt.datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    assert policy.next_run(now) == _dt.datetime(2025, 7, 2, 1, 30, tzinfo=UTC)  # CEST = UTC+2
    winter = _dt.datetime(2025, 12, 1, 0, 0, tzinfo=UTC)
    assert policy.next_run(winter) == _dt.datetime(2025, 12, 1, 2, 30, tzinfo=UTC)
