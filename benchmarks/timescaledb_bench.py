"""Benchmark of the TimescaleDB backend against the raw asyncpg driver, in the same run.

1. Ingest: 100,000 ``energy_data`` records through ``Storage.write`` in batches of 5,000, as
   mappings (validated by it) and as record objects, against ``copy_records_to_table`` of the
   same rows in the same batches into an identical hypertable, the paths taking turns batch
   by batch (targets: at least 0.8 x the raw throughput; the upsert path, the same batches
   again, at least 0.5 x).
2. Reads over a year of 1-minute data: a 1-day ``Storage.read`` and a 30-day hourly
   ``Storage.aggregate`` against the same SQL run raw (target: within 1.5 x the raw time).

Usage: ``python benchmarks/timescaledb_bench.py [--dsn DSN] [--repeat N]``; the DSN defaults to
``TIMESCALEDB_DSN``, then ``TIMESCALEDB_TEST_DSN``, then ``scripts/dev/timescaledb-local.sh dsn``.
It works in schemas of its own (``gdpo_bench_*``) and drops them at the end. Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import asyncpg

from gdpo.storage import UTC, open_storage
from gdpo.storage.aggregate import make_spec
from gdpo.storage.samples import energy_series
from gdpo_timescaledb.buckets import aggregate_sql
from gdpo_timescaledb.connection import init_connection
from gdpo_timescaledb.reads import range_sql

INGEST_RECORDS = 100_000
YEAR_START = dt.datetime(2024, 1, 1, tzinfo=UTC)
AGG_FIELDS = {"pv_power_w": "avg", "grid_power_w": "max", "house_consumption_w": "avg",
              "grid_import_total_kwh": "last"}
BATCH = 5_000
INGEST_TARGETS = {"mappings": 0.8, "records": 0.8, "upsert (mappings again)": 0.5}
READ_TARGET = 1.5


def find_dsn(explicit: str | None) -> str:
    """The DSN to benchmark against."""
    dsn = explicit or os.environ.get("TIMESCALEDB_DSN") or os.environ.get("TIMESCALEDB_TEST_DSN")
    if dsn:
        return dsn
    script = Path(__file__).resolve().parents[1] / "scripts" / "dev" / "timescaledb-local.sh"
    out = subprocess.run([str(script), "dsn"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("no server: set TIMESCALEDB_DSN or run scripts/dev/timescaledb-local.sh start")
    return out.stdout.strip()


def config(dsn: str, schema: str) -> dict:
    return {"backend": "timescaledb",
            "timescaledb": {"dsn": dsn, "schema": schema, "pool": {"min": 1, "max": 2}, "policies": False}}


async def raw_connection(dsn: str) -> asyncpg.Connection:
    """A plain asyncpg connection with the backend's jsonb codec, so that the comparison
    measures the write and read paths, not the JSON encoding."""
    conn = await asyncpg.connect(dsn)
    await init_connection(conn)
    return conn


async def timed_pair(storage_fn, raw_fn, repeat: int) -> tuple[float, float]:
    """Median seconds of ``repeat`` runs of each, interleaved so that load on the machine
    (autovacuum, other processes) weighs on both alike; one warm-up run each first."""
    await storage_fn()
    await raw_fn()
    storage_times, raw_times = [], []
    for _ in range(repeat):
        for fn, times in ((storage_fn, storage_times), (raw_fn, raw_times)):
            t0 = time.perf_counter()
            await fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(storage_times), statistics.median(raw_times)


class IngestResult(NamedTuple):
    """One ingest path against raw COPY of the same rows: median seconds of the rounds, and
    the median and range of the per-round ratios (raw seconds / Storage seconds)."""

    storage_s: float
    raw_s: float
    ratio: float
    low: float
    high: float


def ingest_result(storage: list[float], raw: list[float]) -> IngestResult:
    """The result of paired rounds (``storage[i]`` was measured alongside ``raw[i]``)."""
    ratios = [r / s for s, r in zip(storage, raw)]
    return IngestResult(statistics.median(storage), statistics.median(raw), statistics.median(ratios),
                        min(ratios), max(ratios))


async def bench_ingest(dsn: str, repeat: int) -> dict[str, IngestResult]:
    """{path: result} for INGEST_RECORDS records in batches of BATCH: ``Storage.write`` of
    mappings (validated by it) and of record objects, against raw ``copy_records_to_table``
    of the same rows in the same batches; and the upsert path (the same mappings again).

    The paths take turns batch by batch (the order rotating), each into a table of its own,
    so that load on the machine (other processes, autovacuum) weighs on all of them alike;
    ``repeat`` rounds, each into emptied tables, after one warm-up round."""
    records = energy_series(YEAR_START, INGEST_RECORDS, step_s=60)
    columns = list(records[0].FIELDS)
    rows = [r.as_tuple() for r in records]
    mappings = [r.to_dict() for r in records]
    batches = range(0, INGEST_RECORDS, BATCH)
    async with open_storage(config(dsn, "gdpo_bench_ingest")) as s, \
            open_storage(config(dsn, "gdpo_bench_ingest_rec")) as s_rec, \
            open_storage(config(dsn, "gdpo_bench_ingest_raw")):
        conn = await raw_connection(dsn)

        def raw(i: int):
            return conn.copy_records_to_table("energy_data", records=rows[i:i + BATCH], columns=columns,
                                              schema_name="gdpo_bench_ingest_raw")

        async def paired_round(writers: dict) -> dict[str, float]:
            """Every writer once over all batches, taking turns per batch; seconds by writer."""
            spent = dict.fromkeys(writers, 0.0)
            names = list(writers)
            for n, i in enumerate(batches):
                for name in names[n % len(names):] + names[:n % len(names)]:
                    t0 = time.perf_counter()
                    await writers[name](i)
                    spent[name] += time.perf_counter() - t0
            return spent

        def storage_writer(storage, items: list, counted: list):
            async def write(i: int) -> None:
                counted.append(await storage.write("energy_data", items[i:i + BATCH]))
            return write

        try:
            times: dict[str, list[float]] = {"raw": [], "mappings": [], "records": []}
            for rnd in range(repeat + 1):  # round 0 warms up
                await conn.execute("TRUNCATE gdpo_bench_ingest.energy_data, gdpo_bench_ingest_rec.energy_data, "
                                   "gdpo_bench_ingest_raw.energy_data")
                results: list = []
                spent = await paired_round({"raw": raw, "mappings": storage_writer(s, mappings, results),
                                            "records": storage_writer(s_rec, records, results)})
                assert sum(r.count for r in results) == 2 * INGEST_RECORDS
                if rnd:
                    for name, seconds in spent.items():
                        times[name].append(seconds)
            # the same batches again are a retry: they must store nothing new (upsert path),
            # paired with raw COPY of the same rows into an emptied table
            await conn.execute("TRUNCATE gdpo_bench_ingest_raw.energy_data")
            retried: list = []
            spent = await paired_round({"raw": raw, "upsert": storage_writer(s, mappings, retried)})
            assert sum(r.inserted for r in retried) == 0
        finally:
            await conn.close()
    return {"mappings": ingest_result(times["mappings"], times["raw"]),
            "records": ingest_result(times["records"], times["raw"]),
            "upsert (mappings again)": ingest_result([spent["upsert"]], [spent["raw"]])}


async def bench_reads(dsn: str, repeat: int) -> dict[str, tuple[float, float]]:
    """(storage seconds, raw seconds) for the 1-day read and the 30-day hourly aggregate."""
    year = energy_series(YEAR_START, 366 * 24 * 60, step_s=60, seed=3)
    out = {}
    async with open_storage(config(dsn, "gdpo_bench_reads")) as s:
        t0 = time.perf_counter()
        for i in range(0, len(year), 100_000):
            await s.write("energy_data", year[i:i + 100_000])
        print(f"  loaded a year of 1-minute data ({len(year):,} records) in {time.perf_counter() - t0:.1f} s")
        await s.maintenance(vacuum=True)  # VACUUM ANALYZE now, so autovacuum does not run mid-measurement
        backend = s.backends["timescaledb"]
        table = backend.tables["energy_data"]
        day_start = dt.datetime(2024, 7, 15, tzinfo=UTC)
        day_end = day_start + dt.timedelta(days=1)
        agg_start = dt.datetime(2024, 6, 1, tzinfo=UTC)
        agg_end = agg_start + dt.timedelta(days=30)
        sql, params = aggregate_sql(table, make_spec("energy_data", agg_start, agg_end, "1h", AGG_FIELDS),
                                    timescale=backend.timescale)
        conn = await raw_connection(dsn)
        try:
            day_sql = range_sql(table, descending=False, limit=False)
            rows = await s.read("energy_data", day_start, day_end)
            assert len(rows) == 1440 and len(await conn.fetch(day_sql, day_start, day_end)) == 1440
            out["1-day read (1,440 rows)"] = await timed_pair(
                lambda: s.read("energy_data", day_start, day_end),
                lambda: conn.fetch(day_sql, day_start, day_end), repeat)
            buckets = await s.aggregate("energy_data", agg_start, agg_end, every="1h", fields=AGG_FIELDS)
            assert len(buckets) == 720 and len(await conn.fetch(sql, *params)) == 720
            out["30-day hourly aggregate (720 buckets)"] = await timed_pair(
                lambda: s.aggregate("energy_data", agg_start, agg_end, every="1h", fields=AGG_FIELDS),
                lambda: conn.fetch(sql, *params), repeat)
        finally:
            await conn.close()
    return out


async def drop_schemas(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for schema in ("gdpo_bench_ingest", "gdpo_bench_ingest_rec", "gdpo_bench_ingest_raw", "gdpo_bench_reads"):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    dsn = find_dsn(args.dsn)
    await drop_schemas(dsn)
    ok = True
    try:
        print(f"ingest: {INGEST_RECORDS:,} energy_data records in batches of {BATCH:,}, {args.repeat} rounds, "
              f"the paths taking turns batch by batch (ratio: median of the rounds, their range in brackets)")
        for name, res in (await bench_ingest(dsn, args.repeat)).items():
            target = INGEST_TARGETS[name]
            ok &= res.ratio >= target
            print(f"  Storage.write {name}: {res.storage_s:.3f} s ({INGEST_RECORDS / res.storage_s:,.0f}/s), raw COPY "
                  f"{res.raw_s:.3f} s ({INGEST_RECORDS / res.raw_s:,.0f}/s): ratio {res.ratio:.2f} x raw "
                  f"[{res.low:.2f}-{res.high:.2f}] (target >= {target}) {'PASS' if res.ratio >= target else 'FAIL'}")
        print(f"reads over a year of 1-minute data, median of {args.repeat * 12}, interleaved")
        for name, (storage_s, raw_s) in (await bench_reads(dsn, args.repeat * 12)).items():
            ratio = storage_s / raw_s
            ok &= ratio <= READ_TARGET
            print(f"  {name}: Storage {storage_s * 1000:.2f} ms, raw {raw_s * 1000:.2f} ms: "
                  f"{ratio:.2f} x raw (target <= {READ_TARGET}) {'PASS' if ratio <= READ_TARGET else 'FAIL'}")
    finally:
        await drop_schemas(dsn)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
