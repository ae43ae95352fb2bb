"""Crash and rerun, the JSON -> database -> JSON -> database round trip, and streaming memory use."""

from __future__ import annotations

import asyncio
import os
import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gdpo.migrate.runner import MigrationOptions, migrate
from gdpo.migrate.specs import parse_spec

from legacy_tree import generate_tree
from tests.migrate.migrate_helpers import clear_storage, read_everything

REPO = Path(__file__).resolve().parents[2]


def _gdpo_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "gdpo.cli", *args]


def _persistent_targets(tmp_path) -> list[str]:
    targets = [f"json_legacy:{tmp_path / 'target-tree'}"]
    try:
        import gdpo_sqlite.backend  # noqa: F401

        targets.append(f"sqlite:{tmp_path / 'target.db'}")
    except ImportError:
        pass
    return targets


def _decisions_written(target: str) -> bool:
    """Whether the migration into ``target`` has written some coordinator decisions yet."""
    backend, location = target.split(":", 1)
    path = Path(location)
    if backend == "sqlite":
        if not path.is_file():
            return False
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
            try:
                return conn.execute("SELECT count(*) FROM coordinator_decisions").fetchone()[0] > 0
            finally:
                conn.close()
        except sqlite3.Error:
            return False  # not created yet, or locked for a moment: look again
    return path.exists() and any(path.rglob("*.json"))


# A tree large enough that the migration is still running when the first decisions land: a
# database target writes 3 days in about 0.3 s, so it gets 20 days; the JSON tree target is slow.
_DAYS_FOR = {"json_legacy": 3, "sqlite": 20}


@pytest.mark.slow
def test_killed_mid_run_then_rerun_completes_without_duplicates(tmp_path):
    for target in _persistent_targets(tmp_path):
        backend = target.split(":", 1)[0]
        tree = tmp_path / f"legacy-{backend}"
        expected = generate_tree(tree, days=_DAYS_FOR[backend])
        proc = subprocess.Popen(_gdpo_cmd("migrate", "--from", f"json_legacy:{tree}", "--to", target,
                                          "--batch-size", "20"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if _decisions_written(target):
                if backend == "json_legacy":
                    time.sleep(0.3)
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"the first run ended before it could be killed ({target})"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

        partial = asyncio.run(read_everything(target))
        assert sum(len(v) for v in partial.values()) < sum(expected.values()), "killed before the end"

        report_file = tmp_path / f"rerun-{uuid.uuid4().hex}.json"
        rerun = subprocess.run(_gdpo_cmd("migrate", "--from", f"json_legacy:{tree}", "--to", target,
                                         "--report", str(report_file)), capture_output=True, text=True,
                               timeout=600, cwd=tmp_path)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        report = json.loads(report_file.read_text())
        assert report["checksums_match"] is True
        stored = asyncio.run(read_everything(target))
        for kind, n in expected.items():
            assert report["per_kind"][kind]["in_target"] == n, kind
            assert len(stored[kind]) == n, kind
            assert len({r.key for r in stored[kind]}) == n, f"duplicates of {kind}"
        assert report["per_kind"]["coordinator_decisions"]["already_present"] > 0, "the rerun resumed"
        third = subprocess.run(_gdpo_cmd("migrate", "--from", f"json_legacy:{tree}", "--to", target),
                               capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert third.returncode == 0 and "nothing new to write" in third.stdout


async def _second_location(first: str, tmp_path) -> str:
    backend = first.split(":", 1)[0]
    if backend == "memory":
        return f"memory:rt-{uuid.uuid4().hex}"
    if backend == "sqlite":
        return f"sqlite:{tmp_path / 'second.db'}"
    await clear_storage(parse_spec(first).config)
    return first


def _as_dicts(records: dict) -> dict:
    return {kind: sorted((r.to_dict() for r in recs), key=lambda d: str(d)) for kind, recs in records.items()}


async def test_round_trip_json_db_json_db_ends_identical(tmp_path, sample_tree, target_spec):
    first_db = target_spec
    await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=first_db))
    db1 = await read_everything(first_db)
    json1 = tmp_path / "json1"
    r1 = await migrate(MigrationOptions(source=first_db, target=f"json_legacy:{json1}"))
    assert r1["exit_code"] == 0 and r1["checksums_match"]
    second_db = await _second_location(first_db, tmp_path)
    r2 = await migrate(MigrationOptions(source=f"json_legacy:{json1}", target=second_db))
    assert r2["exit_code"] == 0 and r2["checksums_match"] and not r2["quarantined"]
    db2 = await read_everything(second_db)
    assert _as_dicts(db1) == _as_dicts(db2)
    json2 = tmp_path / "json2"
    await migrate(MigrationOptions(source=second_db, target=f"json_legacy:{json2}"))
    files1 = {p.relative_to(json1): p.read_bytes() for p in json1.rglob("*.json")}
    files2 = {p.relative_to(json2): p.read_bytes() for p in json2.rglob("*.json")}
    assert files1 == files2, "the exported trees are byte-identical"


def test_json_legacy_to_json_legacy_round_trip_is_exact(tmp_path, sample_tree):
    async def run():
        await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=f"json_legacy:{tmp_path / 'a'}"))
        await migrate(MigrationOptions(source=f"json_legacy:{tmp_path / 'a'}", target=f"json_legacy:{tmp_path / 'b'}"))
        return await read_everything(f"json_legacy:{tmp_path / 'a'}"), await read_everything(f"json_legacy:{tmp_path / 'b'}")

    a, b = asyncio.run(run())
    assert _as_dicts(a) == _as_dicts(b)


@pytest.mark.slow
def test_import_streams_under_150_mb(tmp_path):
    tree = tmp_path / "legacy"
    generate_tree(tree, days=30)
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    targets = [f"json_legacy:{tmp_path / 'never-created'}"]  # dry run: read, map, validate everything
    extra = ["--dry-run"]
    try:
        import gdpo_sqlite.backend  # noqa: F401

        targets, extra = [f"sqlite:{tmp_path / 'big.db'}"], []
    except ImportError:
        pass
    out = subprocess.run([sys.executable, "-c", code, *_gdpo_cmd("migrate", "--from", f"json_legacy:{tree}",
                                                                  "--to", targets[0], *extra)],
                         capture_output=True, text=True, timeout=900)
    rc, max_kb = map(int, out.stdout.split())
    assert rc == 0, out.stderr
    assert max_kb < 150 * 1024, f"peak RSS {max_kb / 1024:.0f} MB"


async def test_any_to_any_json_sqlite_timescaledb_json(tmp_path, sample_tree):
    """JSON -> SQLite -> TimescaleDB -> JSON: the same records at every step."""
    import importlib.util

    dsn = os.environ.get("TIMESCALEDB_TEST_DSN")
    missing = [name for name in ("gdpo_sqlite.backend", "gdpo_timescaledb.backend")
               if importlib.util.find_spec(name.split(".")[0]) is None or importlib.util.find_spec(name) is None]
    if missing or not dsn:
        reason = f"needs SQLite and TimescaleDB (missing: {', '.join(missing) or 'TIMESCALEDB_TEST_DSN'})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI=true)")
        pytest.skip(reason)
    sqlite, tsdb = f"sqlite:{tmp_path / 'a.db'}", f"timescaledb:{dsn}"
    await clear_storage(parse_spec(tsdb).config)
    await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=sqlite))
    step = await migrate(MigrationOptions(source=sqlite, target=tsdb))
    assert step["exit_code"] == 0 and step["checksums_match"]
    back = await migrate(MigrationOptions(source=tsdb, target=f"json_legacy:{tmp_path / 'back'}"))
    assert back["exit_code"] == 0 and back["checksums_match"]
    assert _as_dicts(await read_everything(sqlite)) == _as_dicts(await read_everything(tsdb)) \
        == _as_dicts(await read_everything(f"json_legacy:{tmp_path / 'back'}"))
