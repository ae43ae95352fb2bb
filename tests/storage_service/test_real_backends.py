"""The storage service against real databases: SQLite files and a TimescaleDB server.

* the conformance testkit on hybrid(sqlite, timescaledb);
* the TimescaleDB server stopped mid-run and started again: every record written during
  the outage ends up in the database, none twice;
* a writing process killed with SIGKILL 20 times at random moments: the SQLite file passes
  ``integrity_check``, every record acknowledged by a completed ``flush()`` is present and
  the spool replays;
* retention keeps aggregates of deleted ranges answering (SQLite and TimescaleDB), and a
  year view (365 daily buckets) is answered from rollups and raw rows.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import gdpo_sqlite.backend  # noqa: F401  (part of this tree: missing is an error, not a skip)
import pytest

from gdpo.storage import open_storage
from gdpo.storage.aggregate import make_spec, reference_aggregate
from gdpo.storage.records import UTC
from gdpo.storage.retention import run_retention
from gdpo.storage.rollups import floor_hour
from gdpo.storage.testkit import *  # noqa: F401,F403  (the conformance suite, on hybrid)
from gdpo.storage.testkit.samples import energy_series, full_record

from .crash_writer import record_ts
from .realdb import controllable_timescale, hybrid_real_config, timescale_schema, timescale_server  # noqa: F401
from .test_retention import FIELDS, assert_same

FAR_PAST = _dt.datetime(1990, 1, 1, tzinfo=UTC)
FAR_FUTURE = _dt.datetime(2100, 1, 1, tzinfo=UTC)
WRITER = os.path.join(os.path.dirname(__file__), "crash_writer.py")
KILL_RUNS = 20
RESULTS: dict[str, object] = {}


@pytest.fixture
def storage_factory(hybrid_real_config):  # noqa: F811  (the conformance suite's fixture)
    config = hybrid_real_config()
    return lambda: open_storage(config)


# --------------------------------------------------------------------------- outage


@pytest.mark.timescaledb
@pytest.mark.slow
async def test_timescaledb_outage_loses_nothing_and_stores_nothing_twice(controllable_timescale,  # noqa: F811
                                                                         hybrid_real_config):  # noqa: F811
    server = controllable_timescale
    t0 = _dt.datetime(2025, 3, 1, tzinfo=UTC)
    written: list[_dt.datetime] = []
    sessions: list[str] = []
    phase = {"name": "before"}
    during: list[_dt.datetime] = []
    stop = asyncio.Event()

    async with open_storage(hybrid_real_config()) as s:
        async def writer():
            i = 0
            while not stop.is_set():
                ts = t0 + _dt.timedelta(seconds=i)
                await s.write("energy_data", {"ts": ts, "pv_power_w": float(i), "grid_power_w": -float(i)})
                written.append(ts)
                if phase["name"] == "outage":
                    during.append(ts)
                if i % 7 == 0:
                    await s.write("system_state", {"ts": ts, "state": "monitoring", "uptime_s": float(i)})
                if i % 25 == 0:
                    sid = f"outage-{i}"
                    await s.write("charging_sessions", {"session_id": sid, "start_ts": ts, "status": "active"})
                    sessions.append(sid)
                i += 1
                await asyncio.sleep(0.002)

        task = asyncio.create_task(writer())
        await asyncio.sleep(1.0)
        phase["name"] = "outage"
        await asyncio.to_thread(server.stop)
        try:
            await asyncio.sleep(2.0)
            await s.flush()
            lane = s.pipeline.lanes["timescaledb"]
            assert lane.pending, "the stopped server must have sent batches to the spool"
            assert s.counters.spooled > 0
        finally:
            await asyncio.to_thread(server.start)
            phase["name"] = "after"
        await asyncio.sleep(1.0)
        stop.set()
        await task
        await s.flush()
        for _ in range(300):
            if not lane.pending:
                break
            await asyncio.sleep(0.1)
        assert not lane.pending, f"the spool was not replayed: {lane.last_error}"
        rows = await s.read("energy_data", FAR_PAST, FAR_FUTURE)
        states = await s.read("system_state", FAR_PAST, FAR_FUTURE)
        got_sessions = await s.read("charging_sessions", FAR_PAST, FAR_FUTURE)
        counters = s.counters.snapshot()

    assert [r.ts for r in rows] == written, "every record, in order, once"
    assert len(states) == len([t for i, t in enumerate(written) if i % 7 == 0])
    assert sorted(r.session_id for r in got_sessions) == sorted(sessions)
    assert during, "records were written while the server was down"
    assert counters["replayed"] >= len(during) and counters["dropped"] == 0
    RESULTS["outage"] = {"written": len(written), "during_outage": len(during), "lost": 0,
                         "spooled": counters["spooled"], "replayed": counters["replayed"],
                         "retries": counters["retries"]}
    print(f"\noutage: {RESULTS['outage']}")


# --------------------------------------------------------------------------- kill -9


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _integrity(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def _acked(ack_path) -> int:
    try:
        lines = [ln for ln in open(ack_path, encoding="utf-8").read().splitlines() if ln.strip()]
    except FileNotFoundError:
        return -1
    return int(lines[-1]) if lines else -1


async def _kill_runs(tmp_path, writer_config, verify_config, label):
    rng = random.Random(20251128)
    survived = 0
    acked_total = 0
    spooled_runs = 0
    cfg_path = tmp_path / f"{label}-writer.json"
    cfg_path.write_text(json.dumps(writer_config))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for run in range(KILL_RUNS):
        ack = tmp_path / f"{label}-ack-{run}"
        proc = subprocess.Popen([sys.executable, WRITER, str(cfg_path), str(ack), str(run)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _acked(ack) < 0 and proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        await asyncio.sleep(rng.uniform(0.0, 1.5))  # a random moment of the write loop
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        db = writer_config["sqlite"]["path"]
        assert _integrity(db) == "ok", f"run {run}: integrity_check failed"
        last = _acked(ack)
        spool_dir = tmp_path / "data" / "spool"
        if any(spool_dir.glob("*/0*")):
            spooled_runs += 1
        async with open_storage(verify_config) as s:  # replays any spool left behind
            day = record_ts(run, 0)
            rows = await s.read("energy_data", day, day + _dt.timedelta(days=1))
            have = {r.ts for r in rows}
            missing = [i for i in range(last + 1) if record_ts(run, i) not in have]
            assert not missing, f"run {run}: acknowledged records missing: {missing[:10]}"
            got = {r.session_id for r in await s.read("charging_sessions", day, day + _dt.timedelta(days=1))}
            want = {f"run{run}-{i}" for i in range(0, last + 1, 5)}
            assert want <= got, f"run {run}: acknowledged sessions missing: {sorted(want - got)[:10]}"
            assert len(rows) == len(have), "no record twice"
        assert not any(spool_dir.glob("*/0*")), f"run {run}: the spool was not replayed"
        survived += 1
        acked_total += last + 1
    return {"runs": KILL_RUNS, "survived": survived, "acknowledged_records": acked_total,
            "runs_with_a_spool_to_replay": spooled_runs}


@pytest.mark.slow
async def test_kill_9_sqlite(tmp_path):
    config = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "data" / "gdpo.db")},
              "retention": {"schedule": False}}
    result = await _kill_runs(tmp_path, config, config, "sqlite")
    RESULTS["kill9_sqlite"] = result
    print(f"\nkill -9 (sqlite): {result}")
    assert result["survived"] == KILL_RUNS


@pytest.mark.slow
@pytest.mark.timescaledb
async def test_kill_9_hybrid_with_the_spool(tmp_path, hybrid_real_config):  # noqa: F811
    """The writer's TimescaleDB is unreachable (a closed loopback port): its time series go to
    the spool; the next start with the server reachable replays it."""
    verify = hybrid_real_config(retention={"schedule": False})
    writer = json.loads(json.dumps(verify))
    writer["timescaledb"]["dsn"] = f"postgresql://gdpo@127.0.0.1:{_free_loopback_port()}/gdpo"
    result = await _kill_runs(tmp_path, writer, verify, "hybrid")
    RESULTS["kill9_hybrid"] = result
    print(f"\nkill -9 (hybrid, spool): {result}")
    assert result["survived"] == KILL_RUNS and result["runs_with_a_spool_to_replay"] == KILL_RUNS


async def test_sigterm_flushes_the_buffer(tmp_path):
    config = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "data" / "gdpo.db")},
              "retention": {"schedule": False}, "batch": {"flush_interval_s": 3600}}
    cfg_path = tmp_path / "writer.json"
    cfg_path.write_text(json.dumps(config))
    ack = tmp_path / "ready"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, WRITER, str(cfg_path), str(ack), "0", "sigterm"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (ack.exists() and ack.read_text().strip() == "ready") and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        await asyncio.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    proc.stderr.close()
    async with open_storage(config) as s:
        assert len(await s.read("energy_data", FAR_PAST, FAR_FUTURE)) == 3, "SIGTERM flushed the buffer"


# --------------------------------------------------------------------------- retention


def _year_of_data():
    """A year of 15-minute samples ending now-ish (365 * 96 records)."""
    start = _dt.datetime(2025, 1, 1, tzinfo=UTC)
    return energy_series(start, 365 * 96, step_s=900, seed=5)


@pytest.mark.parametrize("every", ["1h", "1d", "1mo"])
async def test_retention_keeps_aggregates_answering_on_sqlite(tmp_path, every):
    recs = _year_of_data()[: 60 * 96]
    config = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")},
              "retention": {"days": 20, "schedule": False}}
    now = recs[-1].ts + _dt.timedelta(hours=1)
    async with open_storage(config) as s:
        await s.write("energy_data", recs)
        report = await run_retention(s, now=now)
        assert report["kinds"]["energy_data"]["records"] > 0
        assert (await s.read("energy_data", FAR_PAST, FAR_FUTURE, limit=1))[0].ts > recs[0].ts
        got = await s.aggregate("energy_data", recs[0].ts, now, every=every, fields=FIELDS)
    assert_same(got, reference_aggregate(recs, make_spec("energy_data", recs[0].ts, now, every, FIELDS)), every)


@pytest.mark.timescaledb
async def test_retention_keeps_aggregates_answering_on_hybrid(hybrid_real_config):  # noqa: F811
    recs = _year_of_data()[: 40 * 96]
    now = recs[-1].ts + _dt.timedelta(hours=1)
    async with open_storage(hybrid_real_config(retention={"days": 10, "schedule": False})) as s:
        await s.write("energy_data", recs)
        await s.write("charging_sessions", [full_record("charging_sessions", i) for i in range(5)])
        report = await run_retention(s, now=now)
        assert report["kinds"]["energy_data"]["rollup_hours"] > 0
        for every in ("1h", "1d"):
            got = await s.aggregate("energy_data", recs[0].ts, now, every=every, fields=FIELDS)
            assert_same(got, reference_aggregate(recs, make_spec("energy_data", recs[0].ts, now, every, FIELDS)),
                        every)
        assert len(await s.read("charging_sessions", FAR_PAST, FAR_FUTURE)) == 5


async def test_year_view_on_sqlite(tmp_path):
    recs = _year_of_data()
    now = recs[-1].ts + _dt.timedelta(hours=1)
    config = {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")},
              "retention": {"days": 30, "schedule": False}}
    async with open_storage(config) as s:
        await s.write("energy_data", recs)
        await run_retention(s, now=now)
        start = floor_hour(now - _dt.timedelta(days=365))  # over rollups an hour counts whole
        got = await s.aggregate("energy_data", start, now, every="1d", fields={"pv_power_w": ["avg", "max"]})
    assert len(got) >= 364
    assert sum(b["count"] for b in got) == sum(1 for r in recs if start <= r.ts < now)
