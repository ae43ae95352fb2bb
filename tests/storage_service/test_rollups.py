"""Hourly rollups: exact partial statistics, the stored form, merging late samples."""

from __future__ import annotations

import datetime as _dt
import math

from gdpo.storage.aggregate import make_spec, reference_aggregate
from gdpo.storage.records import UTC
from gdpo.storage.rollups import (Rollup, SidecarRollupStore, combine, compute_hourly, merge_late, partial_spec,
                                  rollup_fields)
from gdpo.storage.testkit.samples import energy_series

T0 = _dt.datetime(2025, 3, 29, 20, tzinfo=UTC)  # spans the spring DST change


def test_rollups_answer_like_the_reference():
    recs = energy_series(T0, 3 * 24 * 60, step_s=60, seed=3)
    recs = [r.replace(pv_power_w=None) if i % 11 == 0 else r for i, r in enumerate(recs)]
    fields = {"pv_power_w": ["avg", "min", "max", "sum", "count", "first", "last"], "grid_power_w": "avg"}
    end = T0 + _dt.timedelta(days=3)
    for every in ("1h", "3h", "1d", "1mo"):
        spec = make_spec("energy_data", T0, end, every, fields)
        got = combine(spec, compute_hourly("energy_data", recs), [])
        want = reference_aggregate(recs, spec)
        assert [g["bucket"] for g in got] == [w["bucket"] for w in want]
        for g, w in zip(got, want):
            assert g["count"] == w["count"]
            for k in w:
                if k not in ("bucket", "count"):
                    assert math.isclose(g[k], w[k], rel_tol=1e-9), (every, k)


def test_blob_round_trip_and_missing_fields():
    (r,) = compute_hourly("energy_data", [energy_series(T0, 1, step_s=60)[0].replace(pv_power_w=None)])
    again = Rollup.from_blob("energy_data", r.start, r.samples, r.to_blob())
    assert again.stats == r.stats and "pv_power_w" not in r.stats
    assert len(r.values) == 6 * len(rollup_fields("energy_data"))


def test_late_samples_merge_and_a_rerun_replaces():
    recs = energy_series(T0, 60, step_s=60)
    (full,) = compute_hourly("energy_data", recs)
    (late,) = compute_hourly("energy_data", [recs[0].replace(ts=T0 + _dt.timedelta(seconds=30), pv_power_w=1e6)])
    merged = merge_late(late, full)
    assert merged.samples == 61 and merged.stats["pv_power_w"][3] == 1e6
    assert merge_late(full, full) == full


def test_partial_spec_asks_only_for_what_is_needed():
    spec = make_spec("energy_data", T0, T0 + _dt.timedelta(days=1), "1d", {"pv_power_w": "avg", "grid_power_w": "max"})
    asked = {name.replace("\x1f", ":") for name, _, _ in partial_spec(spec, T0).fields}
    assert asked == {"pv_power_w:count", "pv_power_w:sum", "grid_power_w:count", "grid_power_w:max"}


async def test_sidecar_store(tmp_path):
    store = SidecarRollupStore(tmp_path / "r.sqlite")
    assert await store.rollup_bounds("energy_data") is None
    rollups = compute_hourly("energy_data", energy_series(T0, 180, step_s=60))
    assert await store.write_rollups("energy_data", rollups) == 3
    assert await store.write_rollups("energy_data", rollups) == 3  # upsert
    got = await store.read_rollups("energy_data", T0, T0 + _dt.timedelta(hours=2))
    assert [r.start for r in got] == [T0, T0 + _dt.timedelta(hours=1)] and got[0].to_blob() == rollups[0].to_blob()
    assert await store.rollup_bounds("energy_data") == (T0, T0 + _dt.timedelta(hours=2))
    store.close()
    assert (tmp_path / "r.sqlite").stat().st_mode & 0o777 == 0o600


async def test_a_sidecar_file_and_an_sqlite_database_hold_the_same_rollup_table(tmp_path):
    """One SQLite form of the rollup store: a sidecar and the SQLite backend's file are alike,
    so an existing file of either (made before the definitions were merged) reads the same."""
    import sqlite3

    from gdpo.storage import open_storage

    rollups = compute_hourly("energy_data", energy_series(T0, 120, step_s=60))
    sidecar = SidecarRollupStore(tmp_path / "side.sqlite")
    await sidecar.write_rollups("energy_data", rollups)
    sidecar.close()
    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(tmp_path / "db.sqlite")}}) as storage:
        await storage.backends["sqlite"].write_rollups("energy_data", rollups)

    def table(path):
        conn = sqlite3.connect(path)
        try:
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'storage_rollups'").fetchone()[0]
            return sql, conn.execute("SELECT * FROM storage_rollups ORDER BY kind, start_us").fetchall()
        finally:
            conn.close()

    assert table(tmp_path / "side.sqlite") == table(tmp_path / "db.sqlite")
    assert len(table(tmp_path / "db.sqlite")[1]) == 2
