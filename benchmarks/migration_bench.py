#!/usr/bin/env python3
"""Migration speed and memory against the bare parse of the same legacy tree, in one run.

Generates a 30-day legacy tree (>= 3,000 decision files, a state every 15 minutes, an
energy row every minute; see ``legacy_tree.py``), loads the storage plugins and config
sections once (imports: a once-per-process cost, timed and printed on its own), then times,
in each of ``--rounds`` interleaved rounds (3 by default; the median round is reported),

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

    python benchmarks/migration_bench.py [--days 30] [--rounds 3] [--rss-days 365]
        [--target sqlite|memory|json_legacy] [--keep DIR]
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


def warm_up() -> None:
    """Import what a migration loads on first use (the storage plugins, every config section):
    a once-per-process cost, paid here so that no round carries it."""
    from gdpo.config import section_schemas
    from gdpo.storage.plugins import list_backends

    list_backends()
    section_schemas()


def run_round(i: int, tree: Path, work: Path, target: str, files: int) -> dict:
    """One interleaved round: the bare parse, the migration into a fresh target, and (SQLite)
    the raw insert and read-back of the rows it stored; prints and returns the figures."""
    from gdpo.migrate.runner import MigrationOptions, migrate

    out: dict = {"round": i + 1}
    t0 = time.perf_counter()
    out["docs"] = bare_parse(tree)
    out["parse_s"] = time.perf_counter() - t0
    place = work / f"round-{i + 1}"
    place.mkdir()
    spec = target_spec(target, place)
    t0 = time.perf_counter()
    report = asyncio.run(migrate(MigrationOptions(source=f"json_legacy:{tree}", target=spec)))
    out["migrate_s"] = time.perf_counter() - t0
    out["timings"] = report["timings"]
    stored = sum(c["in_target"] or 0 for c in report["per_kind"].values())
    line = (f"round {i + 1}: parse {out['parse_s']:.3f}s, migration to {target} {out['migrate_s']:.3f}s ({stored} "
            f"records in target, checksums match: {report['checksums_match']}, exit {report['exit_code']})")
    if target == "sqlite":
        out["insert_s"], out["read_s"], out["rows"] = raw_database_work(place / "bench.db", place)
        out["limit_s"] = out["parse_s"] + out["insert_s"] + out["read_s"]
        out["ratio"] = out["migrate_s"] / out["limit_s"]
        line += (f", raw insert {out['insert_s']:.3f}s + read-back {out['read_s']:.3f}s: limit {out['limit_s']:.3f}s, "
                 f"{out['ratio']:.2f}x")
    print(line)
    return out


def target_spec(kind: str, work: Path) -> str:
    """The backend spec of a fresh benchmark target."""
    if kind == "sqlite":
        return f"sqlite:{work / 'bench.db'}"
    if kind == "json_legacy":
        return f"json_legacy:{work / 'exported'}"
    from gdpo.storage.memory import memory_plugin
    from gdpo.storage.plugins import get_plugin_manager

    if get_plugin_manager().get_plugin("memory") is None:
        get_plugin_manager().register(memory_plugin, name="memory")
    return f"memory:bench-{work.name}"


def main() -> None:
    """Generate, parse, migrate, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    default_target = "sqlite" if importlib.util.find_spec("gdpo_sqlite.backend") else "memory"
    parser.add_argument("--target", choices=("sqlite", "memory", "json_legacy"), default=default_target)
    parser.add_argument("--rss-days", type=int, default=365,
                        help="Days of the tree whose migration's peak RSS is measured (0: skip).")
    parser.add_argument("--keep", metavar="DIR", help="Generate into DIR and keep it.")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Interleaved rounds of parse, migration and raw database work; the median is reported.")
    args = parser.parse_args()

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
        warm_up()
        print(f"imports of the storage plugins and config sections: {time.perf_counter() - t0:.3f}s (once per "
              f"process{', compiling them: PYTHONDONTWRITEBYTECODE is set' if sys.dont_write_bytecode else ''}; "
              f"not part of any round)")
        rounds = [run_round(i, tree, work, args.target, files) for i in range(args.rounds)]
        r = sorted(rounds, key=lambda x: x["ratio"] if "ratio" in x else x["migrate_s"])[len(rounds) // 2]
        print(f"median round ({r['round']} of {len(rounds)}): bare parse {r['parse_s']:.3f}s ({r['docs']} documents; "
              f"json.loads of every file, once: {json_s:.3f}s), migration {r['migrate_s']:.3f}s")
        print(f"  of which compare-and-write {r['timings']['compare_and_write_s']:.2f}s, validation read-back "
              f"{r['timings']['validate_s']:.2f}s, reading/mapping/checksums the rest")
        print(f"ratio migration / bare parse: {r['migrate_s'] / r['parse_s']:.2f}x")
        print(f"per-file overhead beyond the parse: {(r['migrate_s'] - r['parse_s']) / files * 1e6:.0f} µs "
              f"({files} files)")
        if "ratio" in r:
            print(f"physical limit: parse {r['parse_s']:.3f}s + raw sqlite3 insert {r['insert_s']:.3f}s + raw "
                  f"read-back {r['read_s']:.3f}s ({r['rows']} rows) = {r['limit_s']:.3f}s")
            each = ", ".join(f"{x['ratio']:.2f}x" for x in rounds)
            print(f"ratio migration / physical limit: {r['ratio']:.2f}x  (target <= 2.0; rounds: {each}); "
                  f"per-file overhead beyond the limit: {(r['migrate_s'] - r['limit_s']) / files * 1e6:.0f} µs")

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
