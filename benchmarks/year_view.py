"""Year view on SQLite: 365 daily buckets over a year of one-minute energy_data, after
retention (30 days raw, the rest as hourly and daily rollups).

Prints the time of ``Storage.aggregate(..., every="1d")`` (median of several runs) and its
ratio against the raw driver (stdlib ``sqlite3``) grouping the same year of raw samples by
day in one SQL statement, measured in the same run. Target: under 100 ms.

    python benchmarks/year_view.py [--days 365] [--step-s 60] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from gdpo.storage import open_storage
from gdpo.storage.records import UTC
from gdpo.storage.retention import run_retention
from gdpo.storage.samples import energy_series

FIELDS = {"pv_power_w": ["avg", "max"], "grid_power_w": "avg", "grid_import_total_kwh": ["first", "last"]}


def raw_driver_year(records, runs: int) -> float:
    """Median ms of a GROUP BY local day over the raw samples with the plain sqlite3 driver."""
    with tempfile.TemporaryDirectory() as d:
        conn = sqlite3.connect(Path(d) / "raw.db")
        conn.execute("CREATE TABLE energy (ts_us INTEGER PRIMARY KEY, pv REAL, grid REAL, imp REAL)")
        conn.executemany("INSERT INTO energy VALUES (?, ?, ?, ?)",
                         [(int(r.ts.timestamp() * 1e6), r.pv_power_w, r.grid_power_w, r.grid_import_total_kwh)
                          for r in records])
        conn.commit()
        sql = ("SELECT (ts_us / 1000000 + 3600) / 86400 AS day, count(*), avg(pv), max(pv), avg(grid), "
               "min(imp), max(imp) FROM energy WHERE ts_us >= ? AND ts_us < ? GROUP BY day ORDER BY day")
        lo, hi = int(records[0].ts.timestamp() * 1e6), int(records[-1].ts.timestamp() * 1e6) + 1
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            rows = conn.execute(sql, (lo, hi)).fetchall()
            times.append((time.perf_counter() - t) * 1000)
        conn.close()
        assert len(rows) >= 365
    return statistics.median(times)


async def service_year(records, runs: int, directory: Path) -> tuple[float, int]:
    """Median ms of the storage service's year view after retention."""
    config = {"backend": "sqlite", "sqlite": {"path": str(directory / "gdpo.db")},
              "retention": {"days": 30, "schedule": False}}
    now = records[-1].ts + _dt.timedelta(minutes=1)
    async with open_storage(config) as s:
        for i in range(0, len(records), 5000):
            await s.write("energy_data", records[i:i + 5000])
        t = time.perf_counter()
        await run_retention(s, now=now)
        print(f"retention (roll up and delete {len(records)} samples): {time.perf_counter() - t:.1f} s")
        start = now - _dt.timedelta(days=365)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            got = await s.aggregate("energy_data", start, now, every="1d", fields=FIELDS)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), len(got)


def main() -> None:
    """Run the benchmark and print the numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--step-s", type=int, default=60)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    start = _dt.datetime(2025, 1, 1, tzinfo=UTC)
    records = energy_series(start, args.days * 86400 // args.step_s, step_s=args.step_s, seed=1)
    raw_ms = raw_driver_year(records, args.runs)
    with tempfile.TemporaryDirectory() as d:
        svc_ms, buckets = asyncio.run(service_year(records, args.runs, Path(d)))
    print(f"year view, {buckets} daily buckets over {len(records)} samples ({args.step_s} s):")
    print(f"  storage service (rollups + 30 days raw): {svc_ms:.1f} ms  (target < 100 ms)")
    print(f"  raw sqlite3 GROUP BY over every sample:  {raw_ms:.1f} ms")
    print(f"  ratio service / raw driver: {svc_ms / raw_ms:.2f}")


if __name__ == "__main__":
    main()
