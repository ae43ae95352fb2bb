"""SQLite backend benchmark: gdpo's Storage API against the raw sqlite3 driver, same schema, same run.

    python benchmarks/sqlite_bench.py [--rows 100000] [--profile] [--keep DIR]

1. Ingest of ``--rows`` energy_data records through ``Storage.write`` in batches of 1,000
   and of 10, against raw ``sqlite3.executemany`` of ready-made tuples (one BEGIN IMMEDIATE
   transaction per batch on both sides). Given as record objects (validated already, as
   the collector hands them over) and as plain mappings (validated by ``Storage.write``).
2. A 1-day range read (1,440 records as record objects) from a year of 1-minute data
   (525,600 rows), against the same SQL fetched raw.
3. A 30-day hourly aggregate over the same year, against the same SQL run raw.

Ratios are raw time / gdpo time for ingest (1.0 = as fast as raw) and gdpo time / raw time
for reads (1.0 = no overhead). Targets (2-core machine): ingest at batch 1,000 >= 0.7,
1-day read < 15 ms, aggregate <= 1.5 x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as _dt
import io
import pstats
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gdpo.storage import open_storage
from gdpo.storage.aggregate import make_spec
from gdpo.storage.records import UTC, EnergyData
from gdpo_sqlite.codec import make_row_encoder
from gdpo_sqlite.connection import ConnectionSettings, connect_sync
from gdpo_sqlite.migrations import migrate
from gdpo_sqlite.queries import aggregate_params, aggregate_sql
from gdpo_sqlite.schema import table_sql

START = _dt.datetime(2025, 1, 1, tzinfo=UTC)
YEAR_ROWS = 525_600
AGG_FIELDS = {"pv_power_w": "avg", "grid_power_w": ["min", "max"], "house_consumption_w": "sum",
              "grid_import_total_kwh": "last"}


def config(path: Path) -> dict:
    return {"backend": "sqlite", "sqlite": {"path": str(path)}}


def make_records(n: int, start: _dt.datetime = START) -> list[EnergyData]:
    rng = random.Random(42)
    minute = _dt.timedelta(minutes=1)
    return [EnergyData(ts=start + i * minute, battery_soc_pct=rng.uniform(10, 100),
                       battery_power_w=rng.uniform(-3000, 3000), battery_voltage_v=rng.uniform(48, 56),
                       battery_current_a=rng.uniform(-60, 60), battery_temp_c=rng.uniform(15, 30),
                       pv_power_w=rng.uniform(0, 8000), grid_power_w=rng.uniform(-5000, 5000),
                       grid_voltage_v=rng.uniform(225, 245), house_consumption_w=rng.uniform(200, 4000),
                       grid_import_total_kwh=1000 + i * 0.01, grid_export_total_kwh=500 + i * 0.005,
                       pv_energy_today_kwh=rng.uniform(0, 40), house_consumption_total_kwh=2000 + i * 0.02,
                       price_pln_kwh=rng.uniform(0.2, 1.2), tariff_zone="peak" if i % 3 else "off_peak")
            for i in range(n)]


def new_raw_db(path: Path) -> sqlite3.Connection:
    """A database of the same schema and settings as gdpo's, opened with the plain driver."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect_sync(ConnectionSettings(path))
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, str(path))
    return conn


def raw_ingest(path: Path, rows: list[tuple], batch: int) -> float:
    conn = new_raw_db(path)
    sql = table_sql("energy_data").upsert
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows[i:i + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


async def gdpo_ingest(path: Path, items: list, batch: int, profile: cProfile.Profile | None = None) -> float:
    async with open_storage(config(path)) as storage:
        if profile:
            profile.enable()
        t0 = time.perf_counter()
        for i in range(0, len(items), batch):
            await storage.write("energy_data", items[i:i + batch])
        elapsed = time.perf_counter() - t0
        if profile:
            profile.disable()
    return elapsed


def build_year(path: Path) -> None:
    conn = new_raw_db(path)
    encode = make_row_encoder("energy_data")
    sql = table_sql("energy_data").upsert
    chunk = 50_000
    for i in range(0, YEAR_ROWS, chunk):
        recs = make_records(min(chunk, YEAR_ROWS - i), START + _dt.timedelta(minutes=i))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, [encode(r) for r in recs])
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def timed(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` runs of ``fn`` (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def atimed(fn, repeat: int) -> float:
    await fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def read_benchmarks(path: Path, repeat: int) -> dict:
    day_start = START + _dt.timedelta(days=200)
    day_end = day_start + _dt.timedelta(days=1)
    agg_start, agg_end = START + _dt.timedelta(days=150), START + _dt.timedelta(days=180)
    spec = make_spec("energy_data", agg_start, agg_end, "1h", AGG_FIELDS)
    raw = connect_sync(ConnectionSettings(path), read_only=True)
    t = table_sql("energy_data")
    encode_bound = make_row_encoder("energy_data")  # noqa: F841  (same codec as gdpo)
    lo = (day_start - START).days * 86_400_000_000 + int(START.timestamp()) * 1_000_000
    hi = lo + 86_400_000_000
    raw_read = timed(lambda: raw.execute(t.select_range, (lo, hi, -1)).fetchall(), repeat)
    agg_sql, agg_params = aggregate_sql(spec, False), aggregate_params(spec)
    raw_agg = timed(lambda: raw.execute(agg_sql, agg_params).fetchall(), repeat)
    raw.close()
    async with open_storage(config(path)) as storage:
        got = await storage.read("energy_data", day_start, day_end)
        assert len(got) == 1440, len(got)
        gdpo_read = await atimed(lambda: storage.read("energy_data", day_start, day_end), repeat)
        buckets = await storage.aggregate("energy_data", agg_start, agg_end, every="1h", fields=AGG_FIELDS)
        assert len(buckets) == 30 * 24, len(buckets)
        gdpo_agg = await atimed(lambda: storage.aggregate("energy_data", agg_start, agg_end, every="1h",
                                                          fields=AGG_FIELDS), repeat)
    return {"raw_read": raw_read, "gdpo_read": gdpo_read, "raw_agg": raw_agg, "gdpo_agg": gdpo_agg}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="records to ingest (default 100000)")
    parser.add_argument("--repeat", type=int, default=15, help="runs per read measurement (median)")
    parser.add_argument("--profile", action="store_true", help="profile the gdpo ingest at batch 1,000")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep the files")
    args = parser.parse_args(argv)
    tmp = None
    if args.keep:
        work = args.keep
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="gdpo-sqlite-bench-")
        work = Path(tmp.name)
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, work dir {work}")
    records = make_records(args.rows)
    encode = make_row_encoder("energy_data")
    raw_rows = [encode(r) for r in records]
    mappings = [r.to_dict() for r in records]
    results = []
    ok = True
    for batch in (1000, 10):
        raw_s = raw_ingest(work / f"raw-{batch}.db", raw_rows, batch)
        rec_s = asyncio.run(gdpo_ingest(work / f"rec-{batch}.db", records, batch))
        map_s = asyncio.run(gdpo_ingest(work / f"map-{batch}.db", mappings, batch))
        results.append((batch, raw_s, rec_s, map_s))
    print(f"\nIngest of {args.rows:,} energy_data records (records/s; ratio = raw time / gdpo time)")
    print(f"{'batch':>6} {'raw executemany':>16} {'Storage.write(records)':>23} {'ratio':>6} "
          f"{'Storage.write(mappings)':>24} {'ratio':>6}")
    for batch, raw_s, rec_s, map_s in results:
        print(f"{batch:>6} {args.rows / raw_s:>16,.0f} {args.rows / rec_s:>23,.0f} {raw_s / rec_s:>6.2f} "
              f"{args.rows / map_s:>24,.0f} {raw_s / map_s:>6.2f}")
    ratio_1000 = results[0][1] / results[0][2]
    ok &= ratio_1000 >= 0.7
    print(f"target: Storage.write(records) at batch 1,000 >= 0.70 x raw: {'MET' if ratio_1000 >= 0.7 else 'MISSED'} "
          f"({ratio_1000:.2f}); with validation of mappings: {results[0][1] / results[0][3]:.2f}")

    if args.profile:
        prof = cProfile.Profile()
        asyncio.run(gdpo_ingest(work / "profile.db", records, 1000, prof))
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        print("\nProfile of Storage.write(records), batch 1,000 (event-loop thread only):")
        print("\n".join(out.getvalue().splitlines()[4:30]))

    year = work / "year.db"
    t0 = time.perf_counter()
    build_year(year)
    print(f"\nA year of 1-minute energy_data ({YEAR_ROWS:,} rows) built in {time.perf_counter() - t0:.1f} s")
    r = asyncio.run(read_benchmarks(year, args.repeat))
    print(f"1-day range read (1,440 records): gdpo {r['gdpo_read'] * 1000:.2f} ms (record objects), raw SQL "
          f"{r['raw_read'] * 1000:.2f} ms (tuples), ratio {r['gdpo_read'] / r['raw_read']:.2f}; "
          f"target < 15 ms: {'MET' if r['gdpo_read'] < 0.015 else 'MISSED'}")
    agg_ratio = r["gdpo_agg"] / r["raw_agg"]
    print(f"30-day hourly aggregate (720 buckets, 43,200 rows): gdpo {r['gdpo_agg'] * 1000:.2f} ms, raw SQL "
          f"{r['raw_agg'] * 1000:.2f} ms, ratio {agg_ratio:.2f}; target <= 1.5: {'MET' if agg_ratio <= 1.5 else 'MISSED'}")
    ok &= r["gdpo_read"] < 0.015 and agg_ratio <= 1.5
    if tmp:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
