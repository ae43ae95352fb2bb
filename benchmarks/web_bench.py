"""Dashboard speed and memory on SQLite: every page and API call over a year of one-minute
energy_data after retention (30 days raw, the rest as hourly, quarter-hour and daily
rollups), with a year of quarter-hour prices and decisions, daily stats and sessions.

Each URL is asked once cold, then ``--runs`` times through the app in process (httpx's
ASGI transport: no socket, so the figure is the app's own time); the median is printed
with the raw driver's time (stdlib ``sqlite3`` reading the same rows from the same file,
in the same run) and the ratio app / raw. The server's extra memory is the RSS after
serving every URL minus the RSS before the web app was imported and created (the storage
is open in both). Targets: every page and API call <= 300 ms, the year view <= 100 ms,
extra RSS <= 60 MB; a first call over its target is reported (and counts as missed).

Savings replays a week of stored history through the strategies in the background (started
with the app, kept for the next calls): the app's very first request is /savings, timed as
a user meets it right after the start (the page says it is computing and reloads itself),
then the time until the page shows the result; the table's Savings row comes later and
shows the result (its "shows" column says so).

    python benchmarks/web_bench.py [--days 365] [--runs 7] [--keep DIR]

The database is filled in a child process (so that its memory does not count) and kept in
``--keep DIR`` when given: a second run with the same DIR skips the filling.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UTC = _dt.timezone.utc
TZ = "Europe/Warsaw"
NOW = _dt.datetime(2026, 3, 11, 11, 0, tzinfo=UTC)  # the clock of the served app: the end of the data
PAGE_MS, YEAR_MS, RSS_MB = 300.0, 100.0, 60.0


def storage_config(directory: Path) -> dict:
    """The data_storage section of the benchmark database."""
    return {"backend": "sqlite", "sqlite": {"path": str(directory / "gdpo.db")},
            "retention": {"days": 30, "schedule": False}}


def config_file(directory: Path) -> Path:
    """A config file over the benchmark database (no outside price service is contacted)."""
    import yaml

    path = directory / "gdpo.yaml"
    path.write_text(yaml.safe_dump({"data_storage": storage_config(directory),
                                    "prices": {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0}}))
    return path


def records_of_year(days: int) -> dict[str, list]:
    """Every kind's records over ``days`` days ending at NOW (energy each minute, prices and
    decisions each quarter, system state each hour, a day's stats and sessions each day)."""
    from gdpo.storage.samples import energy_series, full_record

    start = NOW - _dt.timedelta(days=days)
    quarters = days * 96 + 2 * 96  # prices reach a day past NOW
    out = {"energy_data": energy_series(start, days * 1440, step_s=60, seed=1),
           "price_forecasts": [full_record("price_forecasts", i, start) for i in range(quarters)],
           "coordinator_decisions": [full_record("coordinator_decisions", i, start) for i in range(days * 96)],
           "system_state": [full_record("system_state", i, start) for i in range(0, days * 96, 4)]}
    day0 = start.replace(hour=0, minute=0)
    out["daily_stats"] = [full_record("daily_stats", i, day0) for i in range(days)]
    out["charging_sessions"] = [full_record("charging_sessions", i * 96 + 8, start) for i in range(days)]
    out["battery_selling_sessions"] = [full_record("battery_selling_sessions", i * 96 + 72, start) for i in range(days)]
    return out


async def fill(directory: Path, days: int) -> None:
    """Write the records and run retention (roll up, then delete raw samples past 30 days)."""
    from gdpo.storage import open_storage
    from gdpo.storage.retention import run_retention

    t = time.perf_counter()
    async with open_storage(storage_config(directory)) as s:
        for kind, records in records_of_year(days).items():
            for i in range(0, len(records), 5000):
                await s.write(kind, records[i:i + 5000])
        await run_retention(s, now=NOW)
    print(f"filled {days} days in {time.perf_counter() - t:.0f} s: {directory / 'gdpo.db'}", flush=True)


def rss_mb() -> float:
    """This process's resident set size, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def local_midnight(day: _dt.date) -> _dt.datetime:
    """UTC instant of local midnight starting ``day``."""
    from gdpo.storage.aggregate import local_midnight_utc

    return local_midnight_utc(day, TZ)


def us(t: _dt.datetime) -> int:
    """Epoch microseconds (the SQLite backend's time columns)."""
    return int(t.timestamp() * 1_000_000)


def cases() -> list[tuple[str, str, list[tuple[str, tuple]]]]:
    """(name, URL, raw SQL statements reading the same data) of every page and API call."""
    from gdpo.storage.rollups import day_kind, quarter_kind

    today = NOW.astimezone(__import__("zoneinfo").ZoneInfo(TZ)).date()
    d0, d1, d2 = local_midnight(today), local_midnight(today + _dt.timedelta(days=1)), \
        local_midnight(today + _dt.timedelta(days=2))
    day_end = d1
    week0, month0 = local_midnight(today - _dt.timedelta(days=6)), local_midnight(today - _dt.timedelta(days=30))
    year0 = local_midnight(today - _dt.timedelta(days=365))
    fields = "battery_soc_pct, pv_power_w, house_consumption_w, grid_power_w, battery_power_w"
    avgs = ", ".join(f"avg({f})" for f in fields.split(", "))
    latest = [(f"SELECT * FROM {t} ORDER BY ts DESC LIMIT 1", ()) for t in
              ("energy_data", "system_state", "coordinator_decisions")]
    prices = [("SELECT * FROM price_forecasts WHERE period_start >= ? AND period_start < ? ORDER BY period_start",
               (us(d0), us(d2)))]
    today_prices = [("SELECT * FROM price_forecasts WHERE period_start >= ? AND period_start < ? AND source = ?",
                     (us(d0), us(d1), "csdac-pln"))]
    decisions_2d = [("SELECT * FROM coordinator_decisions WHERE ts >= ? AND ts < ? ORDER BY ts DESC", (us(d0), us(d2)))]
    decisions_1d = [("SELECT * FROM coordinator_decisions WHERE ts >= ? AND ts < ? ORDER BY ts DESC",
                     (us(NOW - _dt.timedelta(days=1)), us(NOW)))]
    raw_day = [(f"SELECT ts, {fields} FROM energy_data WHERE ts >= ? AND ts < ? ORDER BY ts", (us(d0), us(day_end)))]

    def grouped(start, step_s):
        return [(f"SELECT ts / {step_s * 1_000_000}, {avgs}, count(*) FROM energy_data WHERE ts >= ? AND ts < ? "
                 f"GROUP BY 1 ORDER BY 1", (us(start), us(day_end)))]

    rollups = "SELECT start_us, samples, stats FROM storage_rollups WHERE kind = ? AND start_us >= ? AND start_us < ?"
    year = [(rollups, (day_kind("energy_data"), us(year0), us(day_end)))] + grouped(month0, 86400)
    sessions = [(f"SELECT * FROM {t} WHERE start_ts >= ? AND start_ts < ? ORDER BY start_ts DESC",
                 (us(NOW - _dt.timedelta(days=30)), us(NOW))) for t in ("charging_sessions", "battery_selling_sessions")]
    sums = ("SELECT substr(date, 1, 7), count(*), sum(total_consumption_kwh), sum(total_pv_kwh), "
            "sum(total_grid_import_kwh), sum(total_grid_export_kwh), sum(grid_charge_kwh), sum(grid_charge_cost_pln), "
            "sum(selling_revenue_pln), avg(avg_price_pln_kwh) FROM daily_stats WHERE date >= ? AND date < ? GROUP BY 1")
    monthly = [(sums, (f"{y}-01-01", f"{y + 1}-01-01")) for y in (today.year, today.year - 1)]
    system = [(f"SELECT max({c}) FROM {t}", ()) for t, c in (
        ("energy_data", "ts"), ("system_state", "ts"), ("coordinator_decisions", "ts"), ("charging_sessions", "start_ts"),
        ("battery_selling_sessions", "start_ts"), ("daily_stats", "date"), ("price_forecasts", "period_start"),
        ("pv_forecasts", "period_start"))]
    week7 = local_midnight(today - _dt.timedelta(days=6))
    savings = [("SELECT * FROM energy_data WHERE ts >= ? AND ts < ?", (us(week7), us(d1))),
               ("SELECT * FROM storage_rollups WHERE kind = ? AND start_us >= ? AND start_us < ?",
                (quarter_kind("energy_data"), us(week7), us(d1))),
               ("SELECT * FROM price_forecasts WHERE period_start >= ? AND period_start < ?", (us(week7), us(d1)))]
    daily = [("SELECT * FROM daily_stats WHERE date >= ? AND date < ?",
              ((today - _dt.timedelta(days=31)).isoformat(), (today + _dt.timedelta(days=1)).isoformat()))]
    return [
        ("page overview", "/", latest + prices + decisions_2d),
        ("page time series day", "/timeseries?range=day", raw_day),
        ("page time series week", "/timeseries?range=week", grouped(week0, 900)),
        ("page time series month", "/timeseries?range=month", grouped(month0, 3600)),
        ("page time series year", "/timeseries?range=year", year),
        ("page decisions", "/decisions", decisions_1d),
        ("page sessions", "/sessions", sessions),
        ("page prices", "/prices", prices[:1]),
        ("page monthly", "/monthly", monthly),
        ("page system", "/system", system),
        ("page savings (7 days)", "/savings", savings),
        ("api status", "/api/v1/status", latest + today_prices),
        ("api energy day raw", "/api/v1/energy", raw_day),
        ("api energy year 1d", f"/api/v1/energy?from={year0.isoformat()}&to={day_end.isoformat()}&every=1d", year),
        ("api decisions", "/api/v1/decisions", decisions_1d),
        ("api sessions", "/api/v1/sessions", sessions[:1]),
        ("api selling", "/api/v1/selling", sessions[1:]),
        ("api prices", "/api/v1/prices", prices[:1]),
        ("api daily", "/api/v1/daily", daily),
        ("api summary/monthly", "/api/v1/summary/monthly", monthly),
        ("health", "/health", [("SELECT 1", ())]),
    ]


def raw_ms(db: Path, statements: list[tuple[str, tuple]], runs: int) -> float:
    """Median ms of the raw driver running ``statements`` and fetching every row."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        for sql, args in statements:
            conn.execute(sql, args).fetchall()
        times.append((time.perf_counter() - t) * 1000)
    conn.close()
    return statistics.median(times[1:])


def savings_state(html: str) -> str:
    """What a Savings page shows: ``computing``, ``stale`` (an older result) or ``result``."""
    return "computing" if "data-computing" in html else "stale" if "data-stale" in html else "result"


async def wait_for_result(client, url: str, timeout_s: float = 120.0) -> float:
    """Ask ``url`` until the Savings page shows its result; the ms it took."""
    t = time.perf_counter()
    while savings_state((await client.get(url)).text) != "result":
        if time.perf_counter() - t > timeout_s:
            raise RuntimeError(f"{url}: no result after {timeout_s} s")
        await asyncio.sleep(0.05)
    return (time.perf_counter() - t) * 1000


async def savings_after_start(client) -> list[dict]:
    """/savings asked right after the app starts: that first call (what it shows), then the
    time until the page shows the backtest."""
    t = time.perf_counter()
    response = await client.get("/savings")
    first_ms = (time.perf_counter() - t) * 1000
    state = savings_state(response.text)
    ready_ms = first_ms + await wait_for_result(client, "/savings")
    return [{"name": "savings first call", "url": "/savings", "status": response.status_code,
             "bytes": len(response.content), "cold_ms": first_ms, "ms": first_ms, "shows": state},
            {"name": "savings result ready", "url": "/savings", "status": 200, "bytes": 0, "cold_ms": ready_ms,
             "ms": ready_ms, "shows": "result", "info": True}]


async def serve_all(directory: Path, runs: int) -> tuple[list[dict], float, float]:
    """(per URL: cold and median ms, status, bytes), RSS before the app, RSS after serving."""
    import httpx

    from gdpo.config import load_config
    from gdpo.storage import open_storage

    cfg = load_config(config_file(directory), env={})
    async with open_storage(cfg, background=False) as storage:
        await storage.latest("energy_data")
        rss_before = rss_mb()
        from gdpo.web.app import create_app

        app = create_app(storage, cfg, now=lambda: NOW)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            results = await savings_after_start(client)  # the very first request of the app
            for name, url, _ in cases():
                times = []
                for _ in range(runs + 1):
                    t = time.perf_counter()
                    response = await client.get(url)
                    times.append((time.perf_counter() - t) * 1000)
                results.append({"name": name, "url": url, "status": response.status_code, "bytes": len(response.content),
                                "cold_ms": times[0], "ms": statistics.median(times[1:])})
                if url == "/savings":
                    results[-1]["shows"] = savings_state(response.text)
        from gdpo.web import savings

        await savings.stop_warm(app.state.ctx)
        return results, rss_before, rss_mb()


def main() -> int:
    """Fill (or reuse) the database, time every URL, print the table; 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="keep (or reuse) the filled database in this directory")
    ap.add_argument("--fill", type=Path, help=argparse.SUPPRESS)  # the child process that fills
    args = ap.parse_args()
    if args.fill:
        asyncio.run(fill(args.fill, args.days))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        if not (directory / "gdpo.db").exists():
            subprocess.run([sys.executable, __file__, "--fill", str(directory), "--days", str(args.days)], check=True)
        results, before, after = asyncio.run(serve_all(directory, args.runs))
        db = directory / "gdpo.db"
        raws = {name: raw_ms(db, statements, args.runs) for name, _, statements in cases()}
        raws["savings first call"] = raws["savings result ready"] = raws["page savings (7 days)"]
    print(f"dashboard over {args.days} days of 1-minute data on SQLite (30 days raw, the rest rolled up); "
          f"median of {args.runs} (first call apart)")
    print(f"{'what':<26} {'status':>6} {'KB':>6} {'cold ms':>8} {'ms':>7} {'raw ms':>7} {'ratio':>6}  target")
    missed = []
    for r in results:
        target = YEAR_MS if "year" in r["name"] else PAGE_MS
        raw = raws[r["name"]]
        if r.get("info"):  # not a request: how long the background replay took after the start
            print(f"{r['name']:<26} {'':>6} {'':>6} {r['ms']:>8.1f} {'':>7} {'':>7} {'':>6}  (the first call "
                  f"shows the 'computing' page, which reloads itself until then)")
            continue
        ok = r["status"] == 200 and r["ms"] <= target
        verdict = "ok" if ok else "MISSED"
        if not ok:
            missed.append(r["name"])
        elif r["cold_ms"] > target:
            verdict = "ok, first call MISSED"
            missed.append(f"{r['name']} (first call)")
        shows = f" (shows: {r['shows']})" if "shows" in r else ""
        print(f"{r['name']:<26} {r['status']:>6} {r['bytes'] / 1024:>6.0f} {r['cold_ms']:>8.1f} {r['ms']:>7.1f} "
              f"{raw:>7.2f} {r['ms'] / raw if raw else float('nan'):>6.1f}  <= {target:.0f} {verdict}{shows}")
    extra = after - before
    print(f"server RSS: {before:.0f} MB before the app, {after:.0f} MB after serving every URL: "
          f"extra {extra:.1f} MB (target <= {RSS_MB:.0f}) {'ok' if extra <= RSS_MB else 'MISSED'}")
    if extra > RSS_MB:
        missed.append("rss")
    print(json.dumps({"missed": missed}))
    return 1 if missed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
