#!/usr/bin/env python3
"""Migration speed and memory against the bare parse of the same legacy tree, in one run.

Generates a 30-day legacy tree (>= 3,000 decision files, a state every 15 minutes, an
energy row every minute; see ``legacy_tree.py``), then times, in one run,

* the bare parse: read and ``msgspec.json.decode`` every file's bytes (NDJSON files line by
  line); ``json.loads`` too, for comparison;
* the migration of the same tree into a fresh target (SQLite when its backend is
  installed, otherwise the in-memory reference backend), with validation read-back;
* into SQLite, the database work alone: the stored rows, already encoded, inserted and read
  back with the raw driver.

The physical limit is the bare parse + the raw insert + the raw read-back: the least any
migration that parses every file, stores every record and reads it back costs here. It
prints the migration / limit ratio (target: at most 2.0) and the per-file overhead beyond the
parse and beyond the limit, in microseconds. The peak RSS of the migration of a year's tree
(``--rss-days``, 365 by default; 0 skips it) is measured in a separate ``gdpo migrate``
process from /proc VmHWM (target: at most 150 MB).

    python benchmarks/migration_bench.py [--days 30] [--rss-days 365] [--target sqlite|memory|json_legacy] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from legacy_tree import generate_tree  # noqa: E402
from run_all import child_env, run_child  # noqa: E402


def bare_parse(root: Path, loads=None) -> int:
    """Read and decode every file of the tree (NDJSON line by line) with ``loads``
    (``msgspec.json.decode`` by default); return the number of documents."""
    if loads is None:
        import msgspec

        loads = msgspec.json.decode
    docs = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as fh:
                data = fh.read()
            try:
                loads(data)
                docs += 1
            except ValueError:  # msgspec.DecodeError and json.JSONDecodeError both are
                for line in data.splitlines():
                    if line.strip():
                        loads(line)
                        docs += 1
    return docs


def raw_database_work(migrated: Path, work: Path, batch: int = 500) -> tuple[float, float, int]:
    """(insert seconds, read-back seconds, rows) of the database work alone, with the raw driver.

    Takes the rows the migration stored (already encoded: no mapping, no JSON, no datetimes),
    inserts them into a new database of the same schema with ``executemany`` in transactions
    of ``batch`` rows, and reads every row back: the least a migration that stores every
    record and reads it back for validation can cost on this machine."""
    import sqlite3

    from gdpo.storage.records import KIND_NAMES
    from gdpo_sqlite.connection import ConnectionSettings, connect_sync
    from gdpo_sqlite.migrations import migrate as create_schema
    from gdpo_sqlite.schema import table_sql

    source = sqlite3.connect(migrated)
    tables = {kind: source.execute(f"SELECT * FROM {kind}").fetchall() for kind in KIND_NAMES}  # names from code
    source.close()
    path = work / "raw-floor.db"
    conn = connect_sync(ConnectionSettings(path))
    conn.execute("PRAGMA journal_mode = WAL")
    create_schema(conn, str(path))
    t0 = time.perf_counter()
    for kind, rows in tables.items():
        sql = table_sql(kind).upsert
        for i in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows[i:i + batch])
            conn.execute("COMMIT")
    insert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for kind in tables:
        conn.execute(f"SELECT * FROM {kind}").fetchall()
    read_s = time.perf_counter() - t0
    conn.close()
    return insert_s, read_s, sum(len(rows) for rows in tables.values())


def target_spec(kind: str, work: Path) -> str:
    """The backend spec of a fresh benchmark target."""
    if kind == "sqlite":
        return f"sqlite:{work / 'bench.db'}"
    if kind == "json_legacy":
        return f"json_legacy:{work / 'exported'}"
    from gdpo.storage.memory import memory_plugin
    from gdpo.storage.plugins import get_plugin_manager

    get_plugin_manager().register(memory_plugin, name="memory")
    return "memory:bench"


def main() -> None:
    """Generate, parse, migrate, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    default_target = "sqlite" if importlib.util.find_spec("gdpo_sqlite.backend") else "memory"
    parser.add_argument("--target", choices=("sqlite", "memory", "json_legacy"), default=default_target)
    parser.add_argument("--rss-days", type=int, default=365,
                        help="Days of the tree whose migration's peak RSS is measured (0: skip).")
    parser.add_argument("--keep", metavar="DIR", help="Generate into DIR and keep it.")
    args = parser.parse_args()

    from gdpo.migrate.runner import MigrationOptions, migrate

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        tree = work / "legacy"
        t0 = time.perf_counter()
        expected = generate_tree(tree, days=args.days)
        files = sum(len(n) for _, _, n in os.walk(tree))
        decision_files = len(list((tree / "out" / "energy_data").glob("*_decision_*.json")))
        print(f"tree: {args.days} days, {files} files ({decision_files} decision files), "
              f"{sum(expected.values())} records, generated in {time.perf_counter() - t0:.1f}s")

        t0 = time.perf_counter()
        bare_parse(tree, json.loads)
        json_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        docs = bare_parse(tree)
        parse_s = time.perf_counter() - t0
        print(f"bare parse (read + msgspec.json.decode) of every file: {parse_s:7.3f}s  ({docs} documents; "
              f"json.loads: {json_s:.3f}s)")

        spec = target_spec(args.target, work)
        t0 = time.perf_counter()
        report = asyncio.run(migrate(MigrationOptions(source=f"json_legacy:{tree}", target=spec)))
        migrate_s = time.perf_counter() - t0
        stored = sum(c["in_target"] or 0 for c in report["per_kind"].values())
        print(f"migration to {args.target:<12}     {migrate_s:7.3f}s  ({stored} records in target, "
              f"checksums match: {report['checksums_match']}, exit {report['exit_code']})")
        t = report["timings"]
        print(f"  of which compare-and-write {t['compare_and_write_s']:.2f}s, validation read-back "
              f"{t['validate_s']:.2f}s, reading/mapping/checksums the rest")
        print(f"ratio migration / bare parse: {migrate_s / parse_s:.2f}x")
        print(f"per-file overhead beyond the parse: {(migrate_s - parse_s) / files * 1e6:.0f} µs "
              f"({files} files)")
        if args.target == "sqlite":
            insert_s, read_s, rows = raw_database_work(work / "bench.db", work)
            limit_s = parse_s + insert_s + read_s
            print(f"physical limit: parse {parse_s:.3f}s + raw sqlite3 insert {insert_s:.3f}s + raw read-back "
                  f"{read_s:.3f}s ({rows} rows) = {limit_s:.3f}s")
            print(f"ratio migration / physical limit: {migrate_s / limit_s:.2f}x  (target <= 2.0); "
                  f"per-file overhead beyond the limit: {(migrate_s - limit_s) / files * 1e6:.0f} µs")

        if args.rss_days > 0:
            rss_tree = work / "legacy-rss"
            t0 = time.perf_counter()
            generate_tree(rss_tree, days=args.rss_days)
            rss_files = sum(len(n) for _, _, n in os.walk(rss_tree))
            print(f"RSS tree: {args.rss_days} days, {rss_files} files, generated in {time.perf_counter() - t0:.1f}s")
            if args.target != "memory":
                target = f"sqlite:{work / 'rss.db'}" if args.target == "sqlite" else f"json_legacy:{work / 'rss-out'}"
                cmd = [sys.executable, "-m", "gdpo.cli", "migrate", "--from", f"json_legacy:{rss_tree}", "--to", target]
            else:
                cmd = [sys.executable, "-m", "gdpo.cli", "migrate", "--from", f"json_legacy:{rss_tree}",
                       "--to", f"json_legacy:{work / 'never-created'}", "--dry-run"]
            # VmHWM of the child itself: ru_maxrss would carry this (large) process's RSS into it
            child = run_child(cmd, child_env(), timeout_s=3600, cwd=work)
            mode = "dry run" if args.target == "memory" else f"into {args.target}"
            print(f"peak RSS of `gdpo migrate` of {args.rss_days} days ({mode}): {child.max_rss_mb:.0f} MB "
                  f"(target <= 150 MB), {child.seconds:.1f}s, exit {child.returncode}")


if __name__ == "__main__":
    main()
