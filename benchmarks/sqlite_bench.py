"""SQLite backend benchmark: gdpo's Storage API against the raw sqlite3 driver, same schema, same run.

    python benchmarks/sqlite_bench.py [--rows 100000] [--profile] [--keep DIR]

1. Ingest of ``--rows`` energy_data records through ``Storage.write`` in batches of 1,000
   and of 10, against raw ``sqlite3.executemany`` of ready-made tuples (one BEGIN IMMEDIATE
   transaction per batch on both sides). Given as record objects (validated already, as
   the collector hands them over) and as plain mappings (validated by ``Storage.write``).
2. A 1-day range read (1,440 records as record objects) from a year of 1-minute data
   (525,600 rows), against the same SQL fetched raw.
3. A 30-day hourly aggregate over the same year, against the same SQL run raw.

The raw side of the targets is ``executemany`` of the one-row UPSERT, the driver's plain way to
insert a batch. gdpo's ingest sends rows 100 at a time in a multi-row UPSERT, which costs SQLite
and the driver less per row; the same statement run raw with ready-made parameters is printed
beside it (``raw multi-row``), so what gdpo itself adds stays visible.

Ratios are raw time / gdpo time for ingest (1.0 = as fast as raw) and gdpo time / raw time
for reads (1.0 = no overhead). Targets (2-core machine): ingest at batch 1,000 >= 0.9 (record
objects) and >= 0.8 (mappings), at batch 10 >= 0.5; 1-day read <= 10 ms; aggregate <= 1.5 x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as _dt
import io
import os
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
from gdpo_sqlite.codec import datetime_to_us, make_row_encoder
from gdpo_sqlite.connection import ConnectionSettings, connect_sync
from gdpo_sqlite.migrations import migrate
from gdpo_sqlite.queries import aggregate_params, aggregate_sql
from gdpo_sqlite.schema import table_sql

START = _dt.datetime(2025, 1, 1, tzinfo=UTC)
INGEST_TARGETS = {"records": 0.9, "mappings": 0.8, "batch 10": 0.5}  # raw time / gdpo time
READ_TARGET_S = 0.010  # 1-day read of 1-minute data
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


class Clock:
    """Wall-clock and process CPU seconds (all threads) of each measured stretch (one per slice)."""

    def __init__(self):
        self.walls: list[float] = []
        self.cpus: list[float] = []

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.walls.append(time.perf_counter() - self._w)
        self.cpus.append(time.process_time() - self._c)
        return False

    @property
    def wall(self) -> float:
        """Total wall-clock seconds."""
        return sum(self.walls)


def best_per_slice(clocks: list[Clock]) -> tuple[float, float]:
    """(wall, CPU) seconds of one side over several rounds: per slice the fastest round, summed.

    A burst of load from elsewhere, or a WAL checkpoint's fsync, slows one slice of one round;
    taking each slice's best keeps such bursts out of both sides alike (as ``timeit`` takes
    the best of its repeats)."""
    return (sum(min(ws) for ws in zip(*(c.walls for c in clocks))),
            sum(min(cs) for cs in zip(*(c.cpus for c in clocks))))


def multi_row_params(raw_rows: list, batch: int, per: int) -> list[tuple[list, list]]:
    """Per batch of ``raw_rows``: (flat parameter lists of ``per`` rows, the rows left over), ready-made."""
    out = []
    for i in range(0, len(raw_rows), batch):
        rows = raw_rows[i:i + batch]
        whole = len(rows) - len(rows) % per
        out.append(([[v for row in rows[j:j + per] for v in row] for j in range(0, whole, per)], rows[whole:]))
    return out


async def ingest_interleaved(work: Path, records: list, mappings: list, raw_rows: list, batch: int,
                             segments: int, profile: cProfile.Profile | None = None) -> tuple[Clock, ...]:
    """Clocks of raw executemany, Storage.write(records), Storage.write(mappings) and the raw
    multi-row UPSERT of all rows.

    Each side writes into its own new database; the rows are cut into ``segments`` slices
    and the three sides take turns slice by slice, so a burst of load from elsewhere on the
    machine falls on all of them alike.
    """
    raw = new_raw_db(work / f"raw-{batch}.db")
    multi = new_raw_db(work / f"multi-{batch}.db")
    table = table_sql("energy_data")
    sql = table.upsert
    multi_params = multi_row_params(raw_rows, batch, table.rows_per_upsert)
    clocks = (Clock(), Clock(), Clock(), Clock())
    step = -(-len(raw_rows) // segments)
    async with open_storage(config(work / f"rec-{batch}.db")) as rec_storage, \
            open_storage(config(work / f"map-{batch}.db")) as map_storage:
        for seg in range(0, len(raw_rows), step):
            stop = min(seg + step, len(raw_rows))
            with clocks[0]:
                for i in range(seg, stop, batch):
                    raw.execute("BEGIN IMMEDIATE")
                    raw.executemany(sql, raw_rows[i:min(i + batch, stop)])
                    raw.execute("COMMIT")
            if profile:
                profile.enable()
            with clocks[1]:
                for i in range(seg, stop, batch):
                    await rec_storage.write("energy_data", records[i:min(i + batch, stop)])
            if profile:
                profile.disable()
            with clocks[2]:
                for i in range(seg, stop, batch):
                    await map_storage.write("energy_data", mappings[i:min(i + batch, stop)])
            with clocks[3]:
                for i in range(seg, stop, batch):
                    many, rest = multi_params[i // batch]
                    multi.execute("BEGIN IMMEDIATE")
                    if many:
                        multi.executemany(table.upsert_many, many)
                    if rest:
                        multi.executemany(sql, rest)
                    multi.execute("COMMIT")
    raw.close()
    multi.close()
    for name in ("raw", "rec", "map", "multi"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}/{name}-{batch}.db{suffix}").unlink(missing_ok=True)
    return clocks


def year_rows(start_row: int, count: int) -> list[tuple]:
    """energy_data rows in column form (epoch µs, 15 values, payload), quicker than records."""
    rng = random.Random(start_row)
    t0 = int(START.timestamp()) * 1_000_000
    u = rng.uniform
    return [(t0 + i * 60_000_000, u(10, 100), u(-3000, 3000), u(48, 56), u(-60, 60), u(15, 30), u(0, 8000),
             u(-5000, 5000), u(225, 245), u(200, 4000), 1000 + i * 0.01, 500 + i * 0.005, u(0, 40),
             2000 + i * 0.02, u(0.2, 1.2), "peak" if i % 3 else "off_peak", "{}")
            for i in range(start_row, start_row + count)]


def build_year(path: Path) -> None:
    conn = new_raw_db(path)
    sql = table_sql("energy_data").upsert
    chunk = 50_000
    for i in range(0, YEAR_ROWS, chunk):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, year_rows(i, min(chunk, YEAR_ROWS - i)))
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


async def paired(raw_fn, gdpo_fn, repeat: int) -> tuple[float, float]:
    """Median seconds of raw and gdpo runs, interleaved (after one warm-up of each) so that
    load from elsewhere on the machine falls on both alike."""
    raw_fn()
    await gdpo_fn()
    raw_s, gdpo_s = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        raw_fn()
        t1 = time.perf_counter()
        await gdpo_fn()
        t2 = time.perf_counter()
        raw_s.append(t1 - t0)
        gdpo_s.append(t2 - t1)
    return statistics.median(raw_s), statistics.median(gdpo_s)


async def read_benchmarks(path: Path, repeat: int) -> dict:
    day_start = START + _dt.timedelta(days=200)
    day_end = day_start + _dt.timedelta(days=1)
    agg_start, agg_end = START + _dt.timedelta(days=150), START + _dt.timedelta(days=180)
    spec = make_spec("energy_data", agg_start, agg_end, "1h", AGG_FIELDS)
    t = table_sql("energy_data")
    lo, hi = datetime_to_us(day_start), datetime_to_us(day_end)
    agg_sql, agg_params = aggregate_sql(spec, False), aggregate_params(spec)
    raw = connect_sync(ConnectionSettings(path), read_only=True)
    try:
        async with open_storage(config(path)) as storage:
            assert len(await storage.read("energy_data", day_start, day_end)) == 1440
            buckets = await storage.aggregate("energy_data", agg_start, agg_end, every="1h", fields=AGG_FIELDS)
            assert len(buckets) == 30 * 24, len(buckets)
            raw_read, gdpo_read = await paired(
                lambda: raw.execute(t.select_range, (lo, hi, -1)).fetchall(),
                lambda: storage.read("energy_data", day_start, day_end), repeat)
            raw_agg, gdpo_agg = await paired(
                lambda: raw.execute(agg_sql, agg_params).fetchall(),
                lambda: storage.aggregate("energy_data", agg_start, agg_end, every="1h", fields=AGG_FIELDS), repeat)
    finally:
        raw.close()
    return {"raw_read": raw_read, "gdpo_read": gdpo_read, "raw_agg": raw_agg, "gdpo_agg": gdpo_agg}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="records to ingest (default 100000)")
    parser.add_argument("--repeat", type=int, default=21, help="runs per read measurement (median)")
    parser.add_argument("--rounds", type=int, default=5, help="ingest rounds at batch 1,000 (best per slice)")
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
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {load:.2f}, work dir {work}")
    records = make_records(args.rows)
    encode = make_row_encoder("energy_data")
    raw_rows = [encode(r) for r in records]
    mappings = [r.to_dict() for r in records]
    results = []
    ok = True
    for batch, rounds in ((1000, args.rounds), (10, 1)):
        runs = [asyncio.run(ingest_interleaved(work, records, mappings, raw_rows, batch, 20)) for _ in range(rounds)]
        best = [best_per_slice([r[k] for r in runs]) for k in range(4)]
        results.append((batch, [b[0] for b in best], [b[1] for b in best]))
    print(f"\nIngest of {args.rows:,} energy_data records in 20 interleaved slices; at batch 1,000 {args.rounds} "
          f"rounds, each slice's best round counted; records/s by wall clock; ratio = raw time / gdpo time "
          f"(wall clock, and CPU time of all threads, which machine load does not distort); records/it = "
          f"raw multi-row time / Storage.write(records) time (what gdpo adds to the statement it runs)")
    print(f"{'batch':>6} {'raw executemany':>16} {'Storage.write(records)':>23} {'ratio wall/cpu':>15} "
          f"{'Storage.write(mappings)':>24} {'ratio wall/cpu':>15} {'raw multi-row':>14} {'records/it':>11}")
    for batch, wall, cpu in results:
        print(f"{batch:>6} {args.rows / wall[0]:>16,.0f} {args.rows / wall[1]:>23,.0f} "
              f"{wall[0] / wall[1]:>8.2f}/{cpu[0] / cpu[1]:.2f} {args.rows / wall[2]:>24,.0f} "
              f"{wall[0] / wall[2]:>8.2f}/{cpu[0] / cpu[2]:.2f} {args.rows / wall[3]:>14,.0f} "
              f"{wall[3] / wall[1]:>11.2f}")
    by_batch = {batch: (wall, cpu) for batch, wall, cpu in results}
    checks = []
    if 1000 in by_batch:
        wall, _ = by_batch[1000]
        checks += [("records at batch 1,000", wall[0] / wall[1], INGEST_TARGETS["records"]),
                   ("mappings at batch 1,000", wall[0] / wall[2], INGEST_TARGETS["mappings"])]
    if 10 in by_batch:
        wall, _ = by_batch[10]
        checks.append(("records at batch 10", wall[0] / wall[1], INGEST_TARGETS["batch 10"]))
    for name, ratio, target in checks:
        ok &= ratio >= target
        print(f"target: Storage.write {name} >= {target:.2f} x raw: {'MET' if ratio >= target else 'MISSED'} "
              f"(wall {ratio:.2f})")

    if args.profile:
        prof = cProfile.Profile()
        asyncio.run(ingest_interleaved(work, records, mappings, raw_rows, 1000, 20, prof))
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        print("\nProfile of Storage.write(records), batch 1,000 (event-loop thread only):")
        print("\n".join(out.getvalue().splitlines()[4:30]))

    year = work / "year.db"
    t0 = time.perf_counter()
    build_year(year)
    print(f"\nA year of 1-minute energy_data ({YEAR_ROWS:,} rows) built in {time.perf_counter() - t0:.1f} s")
    r = asyncio.run(read_benchmarks(year, args.repeat))
    print(f"Reads: median of {args.repeat}, gdpo and raw runs interleaved")
    print(f"1-day range read (1,440 records): gdpo {r['gdpo_read'] * 1000:.2f} ms (record objects), raw SQL "
          f"{r['raw_read'] * 1000:.2f} ms (tuples), ratio {r['gdpo_read'] / r['raw_read']:.2f}; "
          f"target <= 10 ms: {'MET' if r['gdpo_read'] <= READ_TARGET_S else 'MISSED'}")
    agg_ratio = r["gdpo_agg"] / r["raw_agg"]
    print(f"30-day hourly aggregate (720 buckets, 43,200 rows): gdpo {r['gdpo_agg'] * 1000:.2f} ms, raw SQL "
          f"{r['raw_agg'] * 1000:.2f} ms, ratio {agg_ratio:.2f}; target <= 1.5: {'MET' if agg_ratio <= 1.5 else 'MISSED'}")
    ok &= r["gdpo_read"] <= READ_TARGET_S and agg_ratio <= 1.5
    if tmp:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
