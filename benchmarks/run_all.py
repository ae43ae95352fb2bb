#!/usr/bin/env python3
"""Cross-backend benchmark: the old JSON files against SQLite and TimescaleDB.

    python benchmarks/run_all.py            # a Markdown table on stdout
    python benchmarks/run_all.py --json     # the same numbers as JSON

What it measures, all in one run on this machine:

1. Write and read of the same records: the old system's way (one ``json.dump(indent=2)`` file per
   record, directory scans with glob + ``json.load``, the newest file by mtime) against the
   ``Storage`` API of each database backend (``write`` one record per call, or batches of 50;
   ``read`` of a range; ``latest``). Records: a month of charging decisions (96 a day) and a day
   of 1-minute inverter samples. Reads are the median of several runs, warm page cache.
2. A 30-day migration: ``gdpo migrate`` of the tree written in step 1 into each database,
   against the time to merely ``json.load`` every file of it; peak RSS of the migration.
3. The peak RSS (VmHWM of the child process) of ``gdpo run --simulate`` for a simulated day
   (sped up, see ``--sim-speed``) per backend. Every run stays on loopback: the price API is
   pointed at a closed local port, so the coordinator uses its sample prices.

TimescaleDB is measured when ``TIMESCALEDB_TEST_DSN`` names a server, or when
``scripts/dev/timescaledb-local.sh`` can start the local throwaway one (stopped again afterwards
if this run started it). Each run works in a scratch database it creates and drops, so it
needs a role allowed to ``CREATE DATABASE``; otherwise its column says "not measured" and why.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import legacy_json  # noqa: E402  (the benchmarks directory is not a package)
from run_all_report import BACKENDS, LABELS, OPS, machine_info, markdown  # noqa: E402,F401

from gdpo.config import mask_secrets  # noqa: E402
from gdpo.storage import UTC, CoordinatorDecision, open_storage  # noqa: E402
from gdpo.storage.samples import UNICODE_TEXT, energy_series  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LOCAL_TSDB = REPO / "scripts" / "dev" / "timescaledb-local.sh"
BASE = dt.datetime(2025, 11, 1, 0, 0, tzinfo=UTC)
READ_REPEATS = 5


# --------------------------------------------------------------------------- records


def make_decisions(days: int) -> list[CoordinatorDecision]:
    """A charging decision every 15 minutes for ``days`` days, as the coordinator makes them."""
    rng = random.Random(7)
    out = []
    for i in range(days * 96):
        ts = BASE + dt.timedelta(minutes=15 * i, seconds=rng.randint(0, 9))
        charge = rng.random() < 0.1
        price = round(rng.uniform(0.2, 1.2), 3)
        energy = 5.0 if charge else 0.0
        out.append(CoordinatorDecision(
            ts=ts, decision_type="charging", action="charge" if charge else "wait", reason=UNICODE_TEXT,
            confidence=round(rng.uniform(0.5, 1), 2), battery_soc_pct=float(rng.randint(10, 95)),
            price_pln_kwh=price, energy_kwh=energy, estimated_cost_pln=round(energy * price, 2),
            estimated_savings_pln=0.0, source_module="HybridChargingLogic",
            payload={"source": "grid", "duration": 1.5 if charge else 0, "priority": "medium",
                     "pv_power": rng.randint(0, 6000), "house_consumption": rng.randint(200, 3000),
                     "cheapest_price": 0.391, "cheapest_hour": 2}))
    return out


# --------------------------------------------------------------------------- timing helpers


@dataclass
class Cell:
    """One measurement: seconds, or why it was not measured."""

    seconds: float | None = None
    records: int = 0
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "records": self.records, "note": self.note or None}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


async def atimed(coro_fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one awaited call."""
    t0 = time.perf_counter()
    result = await coro_fn()
    return time.perf_counter() - t0, result


def median_of(samples: list[float]) -> float:
    """The median of repeated timings."""
    return statistics.median(samples)


# --------------------------------------------------------------------------- TimescaleDB


@dataclass
class Timescale:
    """Where a TimescaleDB server is, or why there is none."""

    dsn: str | None
    reason: str = ""
    started_here: bool = False


def find_timescale() -> Timescale:
    """TIMESCALEDB_TEST_DSN, else the local throwaway server (started if need be)."""
    if os.environ.get("TIMESCALEDB_TEST_DSN"):
        return Timescale(os.environ["TIMESCALEDB_TEST_DSN"])
    if not LOCAL_TSDB.exists():
        return Timescale(None, "no TIMESCALEDB_TEST_DSN and no scripts/dev/timescaledb-local.sh")
    running = subprocess.run([str(LOCAL_TSDB), "status"], capture_output=True, text=True).returncode == 0
    if not running:
        start = subprocess.run([str(LOCAL_TSDB), "start"], capture_output=True, text=True, timeout=300)
        if start.returncode != 0:
            return Timescale(None, "no server: " + (start.stderr.strip().splitlines() or ["start failed"])[-1])
    dsn = subprocess.run([str(LOCAL_TSDB), "dsn"], capture_output=True, text=True).stdout.strip()
    return Timescale(dsn or None, "" if dsn else "timescaledb-local.sh gave no DSN", started_here=not running)


def with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name``."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


@asynccontextmanager
async def scratch_database(dsn: str, tag: str):
    """A fresh database with the timescaledb extension on the server of ``dsn``, dropped after."""
    import asyncpg

    name = f"gdpo_bench_{os.getpid()}_{tag}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(dsn, name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    finally:
        await conn.close()
    try:
        yield url
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def backend_location(backend: str, tmp: Path, tag: str, tsdb: Timescale):
    """A ``data_storage`` mapping for a fresh, empty store of ``backend``."""
    if backend == "sqlite":
        yield {"backend": "sqlite", "sqlite": {"path": str(tmp / f"{tag}.db")}}
    elif backend == "timescaledb":
        async with scratch_database(tsdb.dsn, tag) as url:
            yield {"backend": "timescaledb", "timescaledb": {"dsn": url}}
    else:
        raise ValueError(backend)


# --------------------------------------------------------------------------- 1. write and read


@dataclass
class IoResults:
    """Rows (operations) by columns (backends)."""

    rows: dict[str, dict[str, Cell]] = field(default_factory=dict)

    def put(self, op: str, backend: str, cell: Cell) -> None:
        self.rows.setdefault(op, {})[backend] = cell




def repeats_of(op: str) -> int:
    """How often a read is timed: ``latest`` once (a repeat would be served from the 60 s cache)."""
    return 1 if op == "latest_sample" else READ_REPEATS


def run_legacy_io(out_dir: Path, decisions, samples, res: IoResults) -> None:
    """The old system: a file per record, glob + json.load to read."""
    energy_dir = out_dir / "energy_data"
    secs, n = timed(lambda: legacy_json.write_decisions(energy_dir, decisions))
    res.put("write_decisions", "json_legacy", Cell(secs, n))
    secs, n = timed(lambda: legacy_json.write_samples(energy_dir, samples))
    res.put("write_samples", "json_legacy", Cell(secs, n))
    day = decisions[len(decisions) // 2].ts.astimezone(legacy_json.WARSAW).date()
    sample_day = samples[0].ts.astimezone(legacy_json.WARSAW).date()
    reads = {
        "read_day_decisions": lambda: legacy_json.scan(energy_dir, legacy_json.DECISION_PREFIX, day),
        "read_month_decisions": lambda: legacy_json.scan(energy_dir, legacy_json.DECISION_PREFIX),
        "read_day_samples": lambda: legacy_json.scan(energy_dir, legacy_json.SAMPLE_PREFIX, sample_day),
        "latest_sample": lambda: [legacy_json.newest(energy_dir, legacy_json.SAMPLE_PREFIX)],
    }
    for op, fn in reads.items():
        times, rows = [], []
        for _ in range(repeats_of(op)):
            secs, rows = timed(fn)
            times.append(secs)
        res.put(op, "json_legacy", Cell(median_of(times), len(rows)))


def local_day_bounds(ts: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """UTC start and end of the Warsaw calendar day holding ``ts``."""
    day = ts.astimezone(legacy_json.WARSAW).date()
    start = dt.datetime.combine(day, dt.time(), legacy_json.WARSAW)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), legacy_json.WARSAW)
    return start.astimezone(UTC), end.astimezone(UTC)


async def run_storage_io(backend: str, tmp: Path, tsdb: Timescale, decisions, samples, res: IoResults) -> None:
    """The same records through the Storage API of one database backend."""
    async with backend_location(backend, tmp, "io", tsdb) as config:
        async with open_storage(config) as storage:
            async def write_each():
                for d in decisions:
                    await storage.write("coordinator_decisions", d)
                await storage.flush()
                return len(decisions)

            async def write_batches():
                for i in range(0, len(samples), 50):
                    await storage.write("energy_data", samples[i:i + 50])
                await storage.flush()
                return len(samples)

            secs, n = await atimed(write_each)
            res.put("write_decisions", backend, Cell(secs, n))
            secs, n = await atimed(write_batches)
            res.put("write_samples", backend, Cell(secs, n))

            day_start, day_end = local_day_bounds(decisions[len(decisions) // 2].ts)
            s_start, s_end = local_day_bounds(samples[0].ts)
            month_end = decisions[-1].ts + dt.timedelta(seconds=1)
            reads = {
                "read_day_decisions": lambda: storage.read("coordinator_decisions", day_start, day_end),
                "read_month_decisions": lambda: storage.read("coordinator_decisions", decisions[0].ts, month_end),
                "read_day_samples": lambda: storage.read("energy_data", s_start, s_end),
                "latest_sample": lambda: _as_list(storage.latest("energy_data")),
            }
            for op, fn in reads.items():
                times, rows = [], []
                for _ in range(repeats_of(op)):
                    secs, rows = await atimed(fn)
                    times.append(secs)
                res.put(op, backend, Cell(median_of(times), len(rows)))


async def _as_list(awaitable) -> list:
    one = await awaitable
    return [] if one is None else [one]


# --------------------------------------------------------------------------- subprocess measurements


def gdpo_command() -> list[str]:
    """How to run this installation's ``gdpo``."""
    script = Path(sys.executable).with_name("gdpo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gdpo.cli"]


@dataclass
class ChildRun:
    """A finished child process: exit status, wall time, peak RSS, output tail."""

    returncode: int
    seconds: float
    max_rss_mb: float
    output: str


def peak_rss_kib(pid: int) -> int:
    """The process's own resident-memory high-water mark (VmHWM, KiB), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_child(argv: list[str], env: dict[str, str], timeout_s: float, cwd: Path) -> ChildRun:
    """Run ``argv`` and follow its peak RSS.

    The peak is VmHWM from /proc/<pid>/status, read every 20 ms until the process exits (the
    high-water mark only grows, so the last reading is the peak up to then). ``ru_maxrss`` from
    ``wait4`` is not used: Linux carries the forking parent's RSS into the child's value."""
    log = tempfile.TemporaryFile(mode="w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True)
    deadline = t0 + timeout_s
    peak_kib, status, killed = 0, 0, False
    while True:
        peak_kib = max(peak_kib, peak_rss_kib(proc.pid))
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            killed = True
            _, status, _ = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.seek(0)
    output = log.read()[-3000:]
    log.close()
    if killed:
        output += f"\n(killed after {timeout_s:.0f} s)"
    return ChildRun(proc.returncode, seconds, peak_kib / 1024, output)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child gdpo: no inherited storage overrides."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_PATH", "GDPO_STORAGE_BACKEND", "TIMESCALEDB_DSN", "GDPO_CONFIG")}
    env.update(extra or {})
    return env


def has_command(*words: str) -> bool:
    """Whether this installation's CLI has ``gdpo <words>``."""
    proc = subprocess.run([*gdpo_command(), *words, "--help"], capture_output=True, text=True, env=child_env())
    return proc.returncode == 0


def child_result(run: ChildRun) -> dict[str, Any]:
    """Wall time, peak RSS, exit status and, on failure, the last line of output."""
    entry: dict[str, Any] = {"seconds": run.seconds, "max_rss_mb": run.max_rss_mb, "returncode": run.returncode}
    if run.returncode != 0:
        tail = run.output.strip().splitlines()
        entry["note"] = f"exit {run.returncode}: {tail[-1][:200] if tail else ''}"
    return entry


async def each_backend(out: dict[str, Any], command: str, backends: list[str], tsdb: Timescale,
                       measure: Callable[[str], Any]) -> None:
    """Run ``measure(backend)`` for each backend ``gdpo <command>`` can be measured on, into
    ``out["backends"]``; a backend that cannot be measured gets its reason instead."""
    if not has_command(command):
        out["note"] = f"gdpo {command} is not part of this installation"
        return
    for backend in backends:
        if backend == "timescaledb" and not tsdb.dsn:
            out["backends"][backend] = {"note": tsdb.reason}
            continue
        try:
            out["backends"][backend] = await measure(backend)
        except Exception as exc:  # one backend failing does not stop the others
            out["backends"][backend] = {"note": f"{type(exc).__name__}: {mask_secrets(str(exc))[:300]}"}


def offline_sections() -> dict[str, Any]:
    """Config sections that keep a simulated run on loopback: PSE's price API pointed at a closed
    local port, so the coordinator falls back to its sample prices at once."""
    from gdpo.config import section_schemas

    if "pse_base_url" in (section_schemas().get("prices") or {}):
        return {"prices": {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0}}
    return {}


def write_config(path: Path, data_storage: dict[str, Any]) -> Path:
    """A config file: a ``data_storage`` section, and what keeps the run on loopback."""
    import yaml

    path.write_text(yaml.safe_dump({"data_storage": data_storage, **offline_sections()}))
    return path


# --------------------------------------------------------------------------- 2. migration


def bare_parse_seconds(tree: Path) -> tuple[float, int]:
    """Time to ``json.load`` every file of a legacy tree once (the floor any import pays)."""
    paths = sorted(p for p in tree.rglob("*.json") if p.is_file())

    def load_all():
        for p in paths:
            with open(p, encoding="utf-8") as f:
                json.load(f)
        return len(paths)

    return timed(load_all)


def migration_target(backend: str, config: dict[str, Any]) -> str:
    """The ``--to`` spec of ``gdpo migrate`` for a store."""
    if backend == "sqlite":
        return f"sqlite:{config['sqlite']['path']}"
    return f"timescaledb:{config['timescaledb']['dsn']}"


async def run_migrations(tree: Path, tmp: Path, tsdb: Timescale, backends: list[str]) -> dict[str, Any]:
    """``gdpo migrate`` of the legacy tree into a fresh store of each backend."""
    parse_s, files = bare_parse_seconds(tree)
    out: dict[str, Any] = {"files": files, "bare_parse_seconds": parse_s, "backends": {}}
    async def one(backend: str) -> dict[str, Any]:
        async with backend_location(backend, tmp, "migrate", tsdb) as config:
            report = tmp / f"migrate-{backend}.json"
            argv = [*gdpo_command(), "migrate", "--from", f"json_legacy:{tree}",
                    "--to", migration_target(backend, config), "--report", str(report)]
            run = await asyncio.to_thread(run_child, argv, child_env(), 600, tmp)
            entry = child_result(run)
            entry["ratio_to_bare_parse"] = run.seconds / parse_s
            if report.exists():
                data = json.loads(report.read_text())
                per_kind = data.get("per_kind", {})
                entry["written"] = {k: v.get("written") for k, v in per_kind.items() if v.get("written")}
                entry["checksums_match"] = data.get("checksums_match")
            return entry

    await each_backend(out, "migrate", backends, tsdb, one)
    return out


# --------------------------------------------------------------------------- 3. peak RSS of a simulated day


async def count_records(config: dict[str, Any]) -> dict[str, int]:
    """How many energy samples and decisions a store holds (what the simulated run wrote)."""
    far_past, far_future = BASE.replace(year=2000), BASE.replace(year=2100)
    async with open_storage(config) as storage:
        return {kind: len(await storage.read(kind, far_past, far_future))
                for kind in ("energy_data", "coordinator_decisions")}


async def run_simulated_days(tmp: Path, tsdb: Timescale, backends: list[str], speed: float,
                             duration: str, timeout_s: float) -> dict[str, Any]:
    """``gdpo run --simulate`` per backend: wall time, peak RSS, records stored."""
    out: dict[str, Any] = {"speed": speed, "duration": duration, "backends": {}}
    async def one(backend: str) -> dict[str, Any]:
        if backend == "json_legacy":
            location = _nullcontext({"backend": "json_legacy",
                                     "json_legacy": {"directory": str(tmp / "sim-json" / "out")}})
        else:
            location = backend_location(backend, tmp, "sim", tsdb)
        async with location as config:
            cfg = write_config(tmp / f"sim-{backend}.yaml", config)
            argv = [*gdpo_command(), "run", "--config", str(cfg), "--simulate", "--speed", str(speed),
                    "--duration", duration]
            run = await asyncio.to_thread(run_child, argv, child_env(), timeout_s, tmp)
            entry = child_result(run)
            try:
                entry["stored"] = await count_records(config)
            except Exception as exc:  # what was stored is extra information, not the measurement
                entry["stored_error"] = mask_secrets(str(exc))[:200]
            return entry

    await each_backend(out, "run", backends, tsdb, one)
    return out


@asynccontextmanager
async def _nullcontext(value):
    yield value


# --------------------------------------------------------------------------- main


async def run(args) -> dict[str, Any]:
    """Every measurement; the result as a JSON-ready dict."""
    backends = [b for b in args.backends.split(",") if b]
    tsdb = find_timescale() if "timescaledb" in backends else Timescale(None, "not selected (--backends)")
    result: dict[str, Any] = {"machine": machine_info(), "notes": {}, "timescaledb": {}}
    try:
        if tsdb.dsn:
            result["timescaledb"]["server"] = await server_version(tsdb.dsn)
        decisions = make_decisions(args.days)
        samples = energy_series(BASE + dt.timedelta(hours=-1), args.sample_days * 1440, step_s=60)
        result["params"] = {"days": args.days, "n_dec": len(decisions), "per_day": 96, "n_samp": len(samples),
                            "read_repeats": READ_REPEATS}
        io = IoResults()
        with tempfile.TemporaryDirectory(prefix="gdpo-bench-") as tmp_s:
            tmp = Path(tmp_s)
            tree = tmp / "legacy" / "out"
            run_legacy_io(tree, decisions, samples, io)
            for backend in (b for b in backends if b != "json_legacy"):
                if backend == "timescaledb" and not tsdb.dsn:
                    result["notes"][backend] = f"not measured: {tsdb.reason}"
                    continue
                try:
                    await run_storage_io(backend, tmp, tsdb, decisions, samples, io)
                except Exception as exc:
                    result["notes"][backend] = f"not measured: {type(exc).__name__}: {mask_secrets(str(exc))[:300]}"
            if tsdb.dsn and "timescaledb" in backends:
                result["notes"].setdefault("timescaledb", "measured against " + describe_server(tsdb))
            result["io"] = {op: {b: c.as_json() for b, c in cells.items()} for op, cells in io.rows.items()}
            db_backends = [b for b in backends if b != "json_legacy"]
            result["migration"] = ({"note": "skipped (--skip-migration)"} if args.skip_migration
                                   else await run_migrations(tree, tmp, tsdb, db_backends))
            result["simulated_day"] = ({"speed": args.sim_speed, "duration": args.sim_duration,
                                        "note": "skipped (--skip-rss)"} if args.skip_rss
                                       else await run_simulated_days(tmp, tsdb, backends, args.sim_speed,
                                                                     args.sim_duration, args.sim_timeout))
    finally:
        if tsdb.started_here:
            subprocess.run([str(LOCAL_TSDB), "stop"], capture_output=True)
    return result


def describe_server(tsdb: Timescale) -> str:
    """Which server the TimescaleDB numbers come from (never its password)."""
    parts = urlsplit(tsdb.dsn or "")
    where = f"{parts.hostname}:{parts.port or 5432}"
    if tsdb.dsn and not os.environ.get("TIMESCALEDB_TEST_DSN"):
        return (f"the local throwaway server of scripts/dev/timescaledb-local.sh on {where} "
                "(fsync and synchronous_commit off: its writes are not durable, SQLite's are)")
    return f"TIMESCALEDB_TEST_DSN ({where})"


async def server_version(dsn: str) -> str:
    """``PostgreSQL x.y, timescaledb a.b.c`` of the server."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        pg = await conn.fetchval("SHOW server_version")
        ts = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    finally:
        await conn.close()
    return f"PostgreSQL {pg.split()[0]}, timescaledb {ts or 'not installed'}"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print Markdown or JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    ap.add_argument("--out", type=Path, help="also write the output to this file")
    ap.add_argument("--days", type=int, default=30, help="days of decisions (96 a day), default 30")
    ap.add_argument("--sample-days", type=int, default=1, help="days of 1-minute samples, default 1")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma list of json_legacy,sqlite,timescaledb")
    ap.add_argument("--sim-speed", type=float, default=1440, help="gdpo run --speed for the simulated day")
    ap.add_argument("--sim-duration", default="24h", help="gdpo run --duration (simulated time)")
    ap.add_argument("--sim-timeout", type=float, default=240, help="seconds before a simulated run is killed")
    ap.add_argument("--skip-migration", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--render", type=Path, metavar="FILE",
                    help="measure nothing: print the table of a result saved earlier with --json")
    args = ap.parse_args(argv)
    result = json.loads(args.render.read_text()) if args.render else asyncio.run(run(args))
    text = json.dumps(result, indent=2, default=str) if args.json else markdown(result)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
