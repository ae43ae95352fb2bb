"""Chaos: kills, an outage, contention and a full disk, on real databases; prints a table.

    python benchmarks/chaos.py [--kills 20] [--contention-s 30] [--outage-s 120] [--only NAME ...]

Scenarios (each one a row of the table):

``kill-run``
    ``gdpo run --simulate`` on SQLite, killed with SIGKILL at a random point, ``--kills`` times
    in a row on one database file. After each kill: ``PRAGMA integrity_check`` is ``ok``, and
    every record stored before the kill is still there (nothing that was on disk is lost).
``kill-writer``
    A writer process stores records and prints each key once ``Storage.flush()`` returned (an
    acknowledged write); it is SIGKILLed at a random point, ``--kills`` times. Every printed
    key must be in the database.
``outage``
    Hybrid storage (SQLite sessions, TimescaleDB time series) with the throwaway TimescaleDB
    cluster (``scripts/dev/timescaledb-local.sh``) stopped for ``--outage-s`` seconds while
    ``gdpo run --simulate --speed 1`` runs: the reading cadence (largest gap between stored
    readings, against the 60 s interval), the readings of the outage window stored after the
    restart, readings stored once (0 lost, 0 duplicated: one per minute, unique keys), how
    often the process touched the server's port while it was down (a listener counts the
    connection attempts: the breaker's probes only) and when it noticed the server was back.
    Skipped when no cluster is configured.
``contention``
    8 writer and 8 reader processes on one SQLite file for ``--contention-s`` seconds:
    records written and read, and the number of "database is locked" errors (target 0).
``disk-full``
    A SQLite database on a 16 MB tmpfs (root only): writes until the disk is full (the
    error must name the file), ``integrity_check`` afterwards, then space is freed and
    writing must resume.

Everything runs on loopback and in temporary directories.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UTC = _dt.timezone.utc
#: The natural key of each kind's SQLite table (fixed names, never input).
KEYS = {"energy_data": "ts", "system_state": "ts", "coordinator_decisions": "decision_id",
        "charging_sessions": "session_id", "daily_stats": "date", "price_forecasts": "period_start, source"}
KINDS = tuple(KEYS)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _sqlite_config(path: Path, tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "config.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        data_storage:
          backend: sqlite
          sqlite:
            path: {path}
          spool:
            directory: {tmp / 'spool'}
        prices:
          pse_base_url: http://127.0.0.1:9/api
          retries: 0
        coordinator:
          strategy: rules
        """) + extra)
    return cfg


def _keys(db: Path) -> dict[str, set]:
    """The natural keys of every stored record, per kind, of a SQLite file (read-only)."""
    if not db.exists():
        return {k: set() for k in KINDS}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        out = {}
        for kind in KINDS:
            try:
                out[kind] = {tuple(r) for r in conn.execute(f"SELECT {KEYS[kind]} FROM {kind}").fetchall()}  # noqa: S608
            except sqlite3.OperationalError:
                out[kind] = set()
        return out
    finally:
        conn.close()


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


# --------------------------------------------------------------------------- kill-run


def kill_run(kills: int, rng: random.Random) -> dict:
    """``gdpo run --simulate`` SIGKILLed ``kills`` times on one file."""
    tmp = Path(tempfile.mkdtemp(prefix="gdpo-chaos-run-"))
    db = tmp / "data" / "chaos.db"
    cfg = _sqlite_config(db, tmp)
    ok = kept = 0
    lost_examples: list[str] = []
    start = _dt.datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    for k in range(kills):
        before = _keys(db)
        proc = subprocess.Popen([sys.executable, "-m", "gdpo.cli", "run", "--config", str(cfg), "--simulate",
                                 "--speed", "600", "--quiet",
                                 "--start", (start + _dt.timedelta(hours=6 * k)).isoformat()],
                                cwd=tmp, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.5, 8.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if db.exists() and _integrity(db) == "ok":
            ok += 1
        after = _keys(db)
        missing = {kind: before[kind] - after[kind] for kind in KINDS}
        if not any(missing.values()):
            kept += 1
        else:
            lost_examples.append(f"kill {k}: " + ", ".join(f"{kind} {len(v)}" for kind, v in missing.items() if v))
    rows = sum(len(v) for v in _keys(db).values())
    shutil.rmtree(tmp, ignore_errors=True)
    return {"scenario": "kill-run", "runs": kills, "integrity_ok": f"{ok}/{kills}",
            "nothing_lost": f"{kept}/{kills}", "rows_at_end": rows, "notes": "; ".join(lost_examples) or "-"}


# --------------------------------------------------------------------------- kill-writer

WRITER = """
import asyncio, datetime as dt, sys
from gdpo.storage import open_storage
async def main(path, first):
    cfg = {"backend": "sqlite", "sqlite": {"path": path}}
    async with open_storage(cfg) as s:
        t = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=first)
        for i in range(10**7):
            ts = t + dt.timedelta(minutes=i)
            await s.write("energy_data", {"ts": ts, "battery_soc_pct": 50.0, "pv_power_w": float(i)})
            if i % 7 == 6:
                await s.flush()
                print(ts.isoformat(), flush=True)
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def kill_writer(kills: int, rng: random.Random) -> dict:
    """A writer printing each acknowledged key, SIGKILLed ``kills`` times."""
    tmp = Path(tempfile.mkdtemp(prefix="gdpo-chaos-writer-"))
    db = tmp / "w.db"
    acked: list[str] = []
    for k in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(k * 10**6)], cwd=tmp, env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(rng.uniform(1.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acked += [line.strip() for line in out.splitlines() if line.strip()]
    conn = sqlite3.connect(db)
    conn.row_factory = None
    stored_us = {r[0] for r in conn.execute("SELECT ts FROM energy_data")}
    conn.close()
    from gdpo_sqlite.codec import datetime_to_us

    missing = [a for a in acked if datetime_to_us(_dt.datetime.fromisoformat(a)) not in stored_us]
    integrity = _integrity(db)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"scenario": "kill-writer", "runs": kills, "integrity_ok": "1/1" if integrity == "ok" else "0/1",
            "nothing_lost": f"{len(acked) - len(missing)}/{len(acked)} acknowledged present",
            "rows_at_end": len(stored_us), "notes": f"missing {missing[:3]}" if missing else "-"}


# --------------------------------------------------------------------------- contention

CONTENDER = """
import asyncio, datetime as dt, sys, time
from gdpo.storage import open_storage
async def main(path, role, n, seconds):
    cfg = {"backend": "sqlite", "sqlite": {"path": path}}
    done = locked = errors = 0
    async with open_storage(cfg) as s:
        t0 = time.monotonic()
        base = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=n)
        i = 0
        while time.monotonic() - t0 < seconds:
            try:
                if role == "w":
                    await s.write("energy_data", [{"ts": base + dt.timedelta(seconds=i * 10 + k), "battery_soc_pct": 50.0}
                                                  for k in range(10)])
                    await s.flush()
                    done += 10
                else:
                    rows = await s.read("energy_data", base - dt.timedelta(days=8), base + dt.timedelta(days=8), limit=500)
                    done += len(rows)
            except Exception as exc:
                if "locked" in str(exc):
                    locked += 1
                else:
                    errors += 1
            i += 1
    print(done, locked, errors)
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
"""


def contention(seconds: float) -> dict:
    """8 writers and 8 readers on one SQLite file."""
    tmp = Path(tempfile.mkdtemp(prefix="gdpo-chaos-lock-"))
    db = tmp / "c.db"
    subprocess.run([sys.executable, "-m", "gdpo.cli", "db", "init", "--config", str(_sqlite_config(db, tmp))],
                   env=_env(), cwd=tmp, check=True, capture_output=True)
    procs = [subprocess.Popen([sys.executable, "-c", CONTENDER, str(db), role, str(n), str(seconds)], env=_env(),
                              cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n, role in enumerate(["w"] * 8 + ["r"] * 8)]
    written = read = locked = errors = 0
    for n, p in enumerate(procs):
        out, err = p.communicate(timeout=seconds + 120)
        if p.returncode != 0 or not out.strip():
            errors += 1
            continue
        done, lk, er = (int(x) for x in out.split())
        locked += lk
        errors += er
        if n < 8:
            written += done
        else:
            read += done
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM energy_data").fetchone()[0]
    integrity = _integrity(db)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"scenario": "contention", "runs": f"8w+8r {seconds:g}s", "integrity_ok": "1/1" if integrity == "ok" else "0/1",
            "nothing_lost": f"{stored}/{written} written stored", "rows_at_end": stored,
            "notes": f"'database is locked': {locked}; other errors: {errors}; rows read: {read}"}


# --------------------------------------------------------------------------- disk-full

def disk_full() -> dict:
    """Fill a small tmpfs under a SQLite database; free space; write again."""
    if os.geteuid() != 0:
        return {"scenario": "disk-full", "runs": 0, "integrity_ok": "-", "nothing_lost": "-", "rows_at_end": 0,
                "notes": "skipped: mounting a tmpfs needs root"}
    mnt = Path(tempfile.mkdtemp(prefix="gdpo-chaos-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], check=True)
    try:
        return asyncio.run(_disk_full(mnt))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def _disk_full(mnt: Path) -> dict:
    from gdpo.storage import open_storage

    db = mnt / "full.db"
    filler = mnt / "filler"
    cfg = {"backend": "sqlite", "sqlite": {"path": str(db)}, "spool": {"directory": str(mnt / "spool")}}
    base = _dt.datetime(2026, 12, 1, tzinfo=UTC)
    acked = 0
    message = "-"
    async with open_storage(cfg) as s:
        await s.write("energy_data", [{"ts": base + _dt.timedelta(seconds=i), "battery_soc_pct": 1.0} for i in range(100)])
        await s.flush()
        acked = 100
        with open(filler, "wb") as f:  # leave about 300 kB
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        os.truncate(filler, max(filler.stat().st_size - 300_000, 0))
        i = 100
        payload = "x" * 2000
        for _ in range(2000):
            try:
                await s.write("energy_data", [{"ts": base + _dt.timedelta(seconds=i + k), "battery_soc_pct": 1.0,
                                               "payload": {"pad": payload}} for k in range(50)])
                await s.flush()
                acked += 50
                i += 50
            except Exception as exc:
                message = str(exc).splitlines()[0][:240]
                break
        integrity_during = _integrity(db)
        filler.unlink()
        resumed = False
        for _ in range(20):
            try:
                await s.write("energy_data", {"ts": base + _dt.timedelta(days=1), "battery_soc_pct": 2.0})
                await s.flush()
                resumed = True
                break
            except Exception:
                await asyncio.sleep(0.5)
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT count(*) FROM energy_data").fetchone()[0]
    conn.close()
    integrity = _integrity(db)
    return {"scenario": "disk-full", "runs": 1,
            "integrity_ok": "1/1" if integrity == integrity_during == "ok" else f"{integrity_during}/{integrity}",
            "nothing_lost": f"{min(stored, acked + 1)}/{acked + 1} acknowledged present",
            "rows_at_end": stored,
            "notes": f"error: {message}; writing resumed after freeing space: {'yes' if resumed else 'NO'}"}


# --------------------------------------------------------------------------- outage

def outage(seconds: float) -> dict:
    """Hybrid run with the throwaway TimescaleDB stopped for ``seconds``."""
    script = REPO / "scripts" / "dev" / "timescaledb-local.sh"
    dsn = os.environ.get("TIMESCALEDB_TEST_DSN") or subprocess.run(
        [str(script), "dsn"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    if not dsn:
        return {"scenario": "outage", "runs": 0, "integrity_ok": "-", "nothing_lost": "-", "rows_at_end": 0,
                "notes": "skipped: no TimescaleDB (scripts/dev/timescaledb-local.sh start)"}
    return asyncio.run(_outage(dsn, seconds, script))


async def _outage(dsn: str, seconds: float, script: Path) -> dict:
    import uuid

    from gdpo.storage import open_storage

    tmp = Path(tempfile.mkdtemp(prefix="gdpo-chaos-outage-"))
    schema = f"chaos_{uuid.uuid4().hex[:8]}"
    cfg = _sqlite_config(tmp / "data" / "sessions.db", tmp)
    text = cfg.read_text().replace("  backend: sqlite\n", "  backend: hybrid\n  hybrid:\n    sessions: sqlite\n"
                                   "    timeseries: timescaledb\n")
    text = text.replace("data_storage:\n", f"data_storage:\n  timescaledb:\n    dsn: {dsn}\n    schema: {schema}\n"
                        "    connect_timeout_s: 2\n", 1)
    cfg.write_text(text)
    proc = subprocess.Popen([sys.executable, "-m", "gdpo.cli", "run", "--config", str(cfg), "--simulate"],
                            cwd=tmp, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    time.sleep(90)
    subprocess.run([str(script), "stop"], cwd=REPO, check=True, capture_output=True)
    stopped_at = time.monotonic()
    window = [_dt.datetime.now(UTC)]
    listener = _PortCounter(_port_of(dsn))
    try:
        time.sleep(seconds)
    finally:
        listener.close()
        window.append(_dt.datetime.now(UTC))
        subprocess.run([str(script), "start"], cwd=REPO, check=True, capture_output=True)
    down_s = time.monotonic() - stopped_at
    time.sleep(120)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    ran_s = time.monotonic() - started
    async with open_storage(json.loads(json.dumps({"backend": "timescaledb",
                                                   "timescaledb": {"dsn": dsn, "schema": schema}}))) as s:
        far = _dt.datetime(2000, 1, 1, tzinfo=UTC), _dt.datetime(2100, 1, 1, tzinfo=UTC)
        readings = await s.read("energy_data", *far)
    times = sorted(r.ts for r in readings)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    expected = int(ran_s // 60)
    unique = len(set(times))
    in_window = len({t for t in times if window[0] <= t <= window[1]})
    back = [ln.split("is back", 1)[1].split(";", 1)[0].strip() for ln in out.splitlines()
            if "backend timescaledb is back" in ln]
    shutil.rmtree(tmp, ignore_errors=True)
    return {"scenario": "outage", "runs": f"down {down_s:.0f}s of {ran_s:.0f}s",
            "integrity_ok": "-", "nothing_lost": f"{unique} readings stored of ~{expected} minutes "
                                                 f"({in_window} from the outage window), "
                                                 f"{len(times) - unique} duplicated",
            "rows_at_end": len(times),
            "notes": f"largest gap between readings {max(gaps, default=0):.0f}s (interval 60 s); "
                     f"{listener.count} connection attempts while down; back: {', '.join(back) or 'not logged'}; "
                     f"exit {proc.returncode}"}


def _port_of(dsn: str) -> int:
    from urllib.parse import urlsplit

    return urlsplit(dsn).port or 5432


class _PortCounter:
    """Listens on the stopped server's loopback port and counts (and closes) each connection."""

    def __init__(self, port: int):
        import socket
        import threading

        self.count = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.count += 1
            conn.close()

    def close(self) -> None:
        """Stop listening (before the server starts again on the port)."""
        self._stop.set()
        self._thread.join()
        self._sock.close()


SCENARIOS = ("kill-run", "kill-writer", "outage", "contention", "disk-full")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--contention-s", type=float, default=30.0)
    ap.add_argument("--outage-s", type=float, default=120.0)
    ap.add_argument("--only", nargs="*", choices=SCENARIOS)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    run = {"kill-run": lambda: kill_run(args.kills, rng), "kill-writer": lambda: kill_writer(args.kills, rng),
           "outage": lambda: outage(args.outage_s), "contention": lambda: contention(args.contention_s),
           "disk-full": disk_full}
    rows = []
    for name in args.only or SCENARIOS:
        t0 = time.monotonic()
        row = run[name]()
        row["seconds"] = f"{time.monotonic() - t0:.0f}"
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    cols = ("scenario", "runs", "integrity_ok", "nothing_lost", "rows_at_end", "seconds", "notes")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols[:-1]}
    print("  ".join(c.ljust(widths.get(c, 0)) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths.get(c, 0)) for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
