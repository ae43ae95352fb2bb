"""Schema migrations: versions, checksums, refusal of newer or changed schemas, concurrent start-up."""

from __future__ import annotations

import datetime as _dt
import multiprocessing
import sqlite3

import pytest

from gdpo.storage import SchemaVersionError, open_storage
from gdpo.storage.testkit import full_record
from gdpo.storage.records import KIND_NAMES
from gdpo_sqlite.codec import make_row_encoder
from gdpo_sqlite.migrations import LATEST_VERSION, MIGRATIONS, Migration, migrate, schema_version
from gdpo_sqlite.schema import table_sql


FAR_PAST = _dt.datetime(1990, 1, 1, tzinfo=_dt.timezone.utc)
FAR_FUTURE = _dt.datetime(2100, 1, 1, tzinfo=_dt.timezone.utc)


def sqlite_config(path):
    return {"backend": "sqlite", "sqlite": {"path": str(path)}}


def _raw(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _index_names(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


async def test_new_database_records_every_migration(open_sqlite, db_path):
    async with open_sqlite() as storage:
        assert (await storage.stats())["backends"]["sqlite"]["schema_version"] == LATEST_VERSION
    conn = _raw(db_path)
    rows = conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version").fetchall()
    assert [(v, n, c) for v, n, c, _ in rows] == [(m.version, m.name, m.checksum) for m in MIGRATIONS]
    assert all(isinstance(a, int) and a > 0 for *_, a in rows)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION


async def test_upgrade_populated_first_version_keeps_every_row(tmp_path):
    path = tmp_path / "v1.db"
    conn = _raw(path)
    conn.execute("PRAGMA journal_mode = WAL")
    assert migrate(conn, str(path), target=1) == [1]
    assert schema_version(conn) == 1
    assert not _index_names(conn), "version 1 has no secondary indexes"
    written = {}
    for kind in KIND_NAMES:
        encode = make_row_encoder(kind)
        recs = [full_record(kind, i) for i in range(50)]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(table_sql(kind).upsert, [encode(r) for r in recs])
        conn.execute("COMMIT")
        written[kind] = recs
    conn.close()

    async with open_storage(sqlite_config(path)) as storage:
        backend = storage.backends["sqlite"]
        assert backend.migrations_applied == list(range(2, LATEST_VERSION + 1))
        for kind, recs in written.items():
            got = await storage.read(kind, FAR_PAST, FAR_FUTURE)
            assert sorted(map(repr, got)) == sorted(map(repr, recs)), kind
    conn = _raw(path)
    assert schema_version(conn) == LATEST_VERSION
    assert "coordinator_decisions_by_ts" in _index_names(conn)


async def test_changed_checksum_stops_startup(open_sqlite, db_path):
    async with open_sqlite():
        pass
    conn = _raw(db_path)
    conn.execute("UPDATE schema_migrations SET checksum = 'f00d' WHERE version = 1")
    conn.close()
    with pytest.raises(SchemaVersionError) as err:
        async with open_sqlite():
            pass
    assert str(db_path) in str(err.value) and "migration 1" in str(err.value) and "checksum" in str(err.value)


async def test_newer_database_refuses_to_open(open_sqlite, db_path):
    async with open_sqlite():
        pass
    conn = _raw(db_path)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'from_the_future', 'x', 0)", (LATEST_VERSION + 1,))
    conn.close()
    with pytest.raises(SchemaVersionError) as err:
        async with open_sqlite():
            pass
    assert f"version {LATEST_VERSION + 1} is newer" in str(err.value) and str(db_path) in str(err.value)


def test_failing_migration_leaves_previous_version_intact(tmp_path):
    path = tmp_path / "f.db"
    conn = _raw(path)
    broken = Migration(LATEST_VERSION + 1, "broken",
                       "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, str(path), MIGRATIONS + [broken])
    assert schema_version(conn) == LATEST_VERSION
    assert not conn.in_transaction
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "half_done" not in tables and "energy_data" in tables


def _start(path, barrier):
    import asyncio

    barrier.wait()

    async def go():
        async with open_storage(sqlite_config(path)) as storage:
            return storage.backends["sqlite"].migrations_applied

    print(asyncio.run(go()))


def test_two_processes_starting_together_apply_each_migration_once(tmp_path):
    path = tmp_path / "race" / "gdpo.db"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_start, args=(path, barrier)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    conn = _raw(path)
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == \
        list(range(1, LATEST_VERSION + 1))


def test_migration_sql_never_uses_insert_or_replace():
    for m in MIGRATIONS:
        assert "OR REPLACE" not in m.sql.upper()
    for kind in KIND_NAMES:
        assert "ON CONFLICT" in table_sql(kind).upsert and "OR REPLACE" not in table_sql(kind).upsert

