"""The SQLite storage backend: one writer connection, a pool of readers, WAL, migrations.

Made by the ``sqlite`` entry point's factory, ``SQLiteBackend(options, context)``;
components reach it only through :class:`gdpo.storage.Storage`. Besides the storage
protocol it offers the optional operations the ``gdpo db`` command looks for:
``check(full=False)``, ``backup(dest)`` and ``recover(src, dest)``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any, Sequence

from gdpo.storage import (
    AggregateSpec,
    Capabilities,
    Health,
    Record,
    RollupMethods,
    StorageError,
    StorageMissingError,
    WriteResult,
    record_class,
)

from gdpo_sqlite import OPTIONS
from gdpo_sqlite.codec import bound_to_column, make_batch_encoder, make_row_decoder
from gdpo_sqlite.connection import ConnectionSettings, connect_async, connect_sync, run_in_connection_thread
from gdpo_sqlite.files import check_gdpo_database, parse_mode, prepare_location
from gdpo_sqlite.maintenance import backup_database, check_database, file_sizes
from gdpo_sqlite.migrations import LATEST_VERSION, migrate
from gdpo_sqlite.pool import ReaderPool
from gdpo_sqlite.queries import aggregate_query, needs_data_range, time_range_sql
from gdpo_sqlite.schema import all_tables, table_sql
from gdpo_sqlite import service_rollups
from gdpo_sqlite.sqlerrors import translate, with_retry
from gdpo_sqlite.writer import Writer

DELETE_CHUNK_ROWS = 2000
OPTIMIZE_AFTER_ROWS = 50_000


def _optimize(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA optimize")


def _option(options: dict[str, Any], *keys: str) -> Any:
    value: Any = options
    default: Any = OPTIONS
    for k in keys:
        default = default[k]
        value = value.get(k) if isinstance(value, dict) else None
    return default.default if value is None else value


class SQLiteBackend(RollupMethods):
    """Stores every record kind in one SQLite file (see docs/storage-sqlite.md)."""

    rollup_io = service_rollups  # the optional rollup methods (storage service), see service_rollups.py

    capabilities = Capabilities(concurrent_writers=True, transactions=True, persistent=True, rollups=True,
                                max_payload_bytes=256 * 1024 * 1024)

    def __init__(self, options: dict[str, Any] | None = None, context: Any = None):
        options = dict(options or {})
        self.name = getattr(context, "name", None) or "sqlite"
        self.path = Path(str(_option(options, "path"))).expanduser().absolute()
        self.settings = ConnectionSettings(self.path, busy_timeout_ms=int(_option(options, "busy_timeout_ms")),
                                           synchronous=str(_option(options, "synchronous")).upper())
        self.pool_min = int(_option(options, "pool", "min"))
        self.pool_max = int(_option(options, "pool", "max"))
        self.idle_timeout_s = float(_option(options, "pool", "idle_timeout_s"))
        self.file_mode = parse_mode(_option(options, "file_mode"), "file_mode")
        self.dir_mode = parse_mode(_option(options, "dir_mode"), "dir_mode")
        self._writer: Writer | None = None
        self._pool: ReaderPool | None = None
        self._encoders = {t.kind: make_batch_encoder(t.kind) for t in all_tables()}
        self._decoders = {t.kind: make_row_decoder(t.kind) for t in all_tables()}
        self.migrations_applied: list[int] = []
        self._rollup_table_seen = False  # set by service_rollups once storage_rollups exists
        self.create = getattr(context, "create", True)  # False: a read-only command, never create the file

    # -- life cycle ----------------------------------------------------------------
    async def open(self) -> None:
        """Create or check the file, migrate the schema, then open the writer and the read pool."""
        if self._writer is not None:
            return
        where = str(self.path)
        self.migrations_applied = await with_retry(lambda: asyncio.to_thread(self._prepare), where,
                                                   "opening the database")
        try:
            writer_conn = await connect_async(self.settings)
        except sqlite3.Error as exc:
            raise translate(exc, where, "opening the writer connection") from exc
        self._writer = Writer(writer_conn, where)
        self._pool = ReaderPool(lambda: connect_async(self.settings, read_only=True), min_size=self.pool_min,
                                max_size=self.pool_max, idle_timeout_s=self.idle_timeout_s, where=where)
        try:
            await self._pool.open()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, where, "opening read connections") from exc
            raise

    def _prepare(self) -> list[int]:
        """(worker thread) Directory, file, header, owner, WAL, migrations, and a probe of every table."""
        if not self.create and not self.path.exists():
            raise StorageMissingError(
                f"{self.path}: no database here, and this command only reads (it creates none). Point "
                f"data_storage.sqlite.path (or DATABASE_PATH) at your database, or create one with `gdpo db init`")
        prepare_location(self.path, self.file_mode, self.dir_mode)
        conn = connect_sync(self.settings)
        try:
            check_gdpo_database(conn, self.path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"{self.path}: cannot switch to WAL journal mode (got {mode!r}); "
                                   f"is the file system one SQLite supports (not a network share)?")
            applied = migrate(conn, str(self.path))
            for t in all_tables():  # reads the newest leaf page of every table and index
                conn.execute(t.latest).fetchall()
            return applied
        finally:
            conn.close()

    async def close(self) -> None:
        """Optimize statistics, close the read pool and the writer. Safe to call twice."""
        pool, self._pool = self._pool, None
        writer, self._writer = self._writer, None
        self._rollup_table_seen = False
        if pool is not None:
            await pool.close()
        if writer is not None:
            try:
                await writer.exclusive(_optimize, "optimizing on close")
            except StorageError:
                pass  # statistics are a nicety; closing must go on
            finally:
                await writer.conn.close()

    def _require_open(self) -> tuple[Writer, ReaderPool]:
        if self._writer is None or self._pool is None:
            raise StorageError(f"{self.path}: the SQLite backend is not open")
        return self._writer, self._pool

    async def _read(self, sql: str, params: Sequence[Any], doing: str, decode: Any = None) -> list:
        """Rows of a query on a pooled read connection; with ``decode``, the rows are turned
        into records in the connection's thread (one hop, and the event loop stays free)."""
        _, pool = self._require_open()

        def fetch(conn: sqlite3.Connection) -> list:
            cursor = conn.execute(sql, params)
            return list(map(decode, cursor)) if decode is not None else cursor.fetchall()

        async def once():
            async with pool.connection() as conn:
                return await run_in_connection_thread(conn, fetch)

        return await with_retry(once, str(self.path), doing)

    async def _read_many(self, sql: str, param_sets: Sequence[Sequence[Any]], doing: str) -> list:
        """Rows of ``sql`` run once per parameter tuple, in one hop to a pooled read connection
        (all in one read transaction, so on one snapshot); rows with a count of 0 left out."""
        _, pool = self._require_open()

        def fetch(conn: sqlite3.Connection) -> list:
            if len(param_sets) == 1:
                return [row for row in conn.execute(sql, param_sets[0]) if row[1]]
            conn.execute("BEGIN")
            try:
                return [row for params in param_sets for row in conn.execute(sql, params) if row[1]]
            finally:
                conn.execute("COMMIT")

        async def once():
            async with pool.connection() as conn:
                return await run_in_connection_thread(conn, fetch)

        return await with_retry(once, str(self.path), doing)

    # -- the protocol -----------------------------------------------------------------
    async def health(self) -> Health:
        """A real query on a read connection."""
        started = time.perf_counter()
        try:
            rows = await self._read("SELECT max(version) FROM schema_migrations", (), "checking health")
        except StorageError as exc:
            return Health(ok=False, backend=self.name, detail=str(exc))
        version = rows[0][0]
        return Health(ok=version == LATEST_VERSION, backend=self.name, detail=f"{self.path} schema v{version}",
                      latency_ms=(time.perf_counter() - started) * 1000,
                      info={"path": str(self.path), "schema_version": version})

    async def write_batch(self, kind: str, records: Sequence[Record]) -> WriteResult:
        """UPSERT the batch in one BEGIN IMMEDIATE transaction (all or nothing)."""
        if not records:
            record_class(kind)
            return WriteResult(kind, 0, 0)
        writer, _ = self._require_open()
        encode_batch = self._encoders[kind]
        table = table_sql(kind)

        def work(conn):  # in the writer thread; a bad payload raises inside and rolls back
            many, rest = encode_batch(records, table.rows_per_upsert)
            if many:
                conn.executemany(table.upsert_many, many)
            if rest:
                conn.executemany(table.upsert, rest)

        await writer.transaction(work, f"writing {len(records)} {kind} records")
        writer.rows_changed_since_optimize += len(records)
        if writer.rows_changed_since_optimize >= OPTIMIZE_AFTER_ROWS:
            await self._optimize()
        return WriteResult(kind, len(records), None)

    async def read_range(self, kind: str, start: Any, end: Any, *, limit: int | None = None,
                         descending: bool = False) -> list[Record]:
        """Records with ``start <= time < end`` in (time, key) order, via the time index."""
        t = table_sql(kind)
        sql = t.select_range_desc if descending else t.select_range
        params = (bound_to_column(kind, start), bound_to_column(kind, end), -1 if limit is None else limit)
        return await self._read(sql, params, f"reading {kind}", self._decoders[kind])

    async def latest(self, kind: str) -> Record | None:
        """The record with the greatest (time, key)."""
        rows = await self._read(table_sql(kind).latest, (), f"reading the latest {kind}", self._decoders[kind])
        return rows[0] if rows else None

    async def aggregate(self, spec: AggregateSpec) -> list[dict[str, Any]]:
        """Buckets computed by SQL GROUP BY (see ``gdpo_sqlite.queries``)."""
        from gdpo_sqlite.queries import bucket_rows_to_dicts

        kind = spec.kind
        first = last = None
        if needs_data_range(spec):
            bounds = (bound_to_column(kind, spec.start), bound_to_column(kind, spec.end))
            (first, last), = await self._read(time_range_sql(kind), bounds, f"aggregating {kind}")
            if first is None:
                return []
        sql, param_sets = aggregate_query(spec, first, last)
        rows = await self._read_many(sql, param_sets, f"aggregating {kind}")
        return bucket_rows_to_dicts(spec, rows)

    async def delete_older_than(self, kind: str, cutoff: Any) -> int:
        """Delete in chunks of DELETE_CHUNK_ROWS, one short transaction each, so writes interleave."""
        writer, _ = self._require_open()
        sql = table_sql(kind).delete_chunk
        value = bound_to_column(kind, cutoff)
        total = 0

        def chunk(conn):
            return conn.execute(sql, (value, value, DELETE_CHUNK_ROWS)).rowcount

        while True:
            n = await writer.transaction(chunk, f"deleting {kind} older than {cutoff}")
            total += n
            if n < DELETE_CHUNK_ROWS:
                break
        writer.rows_changed_since_optimize += total
        if writer.rows_changed_since_optimize >= OPTIMIZE_AFTER_ROWS:
            await self._optimize()
        return total

    async def stats(self) -> dict[str, Any]:
        """Rows per kind, file sizes, schema version, settings and the read pool."""
        _, pool = self._require_open()
        counts = " UNION ALL ".join(f"SELECT '{t.kind}', count(*) FROM {t.kind}" for t in all_tables())
        rows = await self._read(counts, (), "counting rows")
        info = await self._read("SELECT (SELECT max(version) FROM schema_migrations), sqlite_version(), "
                                "(SELECT page_size FROM pragma_page_size), (SELECT page_count FROM pragma_page_count), "
                                "(SELECT freelist_count FROM pragma_freelist_count), "
                                "(SELECT journal_mode FROM pragma_journal_mode)", (), "reading database info")
        version, sqlite_version, page_size, page_count, freelist, journal = info[0]
        sizes = await asyncio.to_thread(file_sizes, self.path)
        return {"kinds": dict(rows), "path": str(self.path), "schema_version": version,
                "sqlite_version": sqlite_version, "journal_mode": journal, "synchronous": self.settings.synchronous,
                "page_size": page_size, "page_count": page_count, "freelist_pages": freelist, **sizes,
                "pool": pool.stats()}

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """``PRAGMA optimize`` (ANALYZE where statistics are missing), a WAL checkpoint, and
        VACUUM on request; VACUUM starts only when no write is queued."""
        writer, _ = self._require_open()
        before = (await asyncio.to_thread(file_sizes, self.path))
        done: dict[str, Any] = {"optimize": True, "analyze": False, "vacuum": False}

        def analyze_if_needed(conn):
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchall():
                conn.execute("ANALYZE")
                done["analyze"] = True
            conn.execute("PRAGMA optimize")

        await writer.exclusive(analyze_if_needed, "updating query statistics")
        writer.rows_changed_since_optimize = 0
        if vacuum:
            await writer.exclusive(lambda conn: conn.execute("VACUUM"), "VACUUM", require_idle=True)
            done["vacuum"] = True
        checkpoint = await writer.exclusive(
            lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall(), "checkpointing the WAL")
        after = await asyncio.to_thread(file_sizes, self.path)
        done.update({"checkpoint": list(checkpoint[0]) if checkpoint else None,
                     "bytes_before": before["file_bytes"] + before["wal_bytes"],
                     "bytes_after": after["file_bytes"] + after["wal_bytes"]})
        return done

    async def _optimize(self) -> None:
        writer, _ = self._require_open()
        await writer.exclusive(_optimize, "optimizing statistics")
        writer.rows_changed_since_optimize = 0

    # -- optional operations used by `gdpo db` ------------------------------------------
    async def check(self, full: bool = False) -> dict[str, Any]:
        """Run ``quick_check`` (``integrity_check`` if full) on the file; works opened or not."""
        return await asyncio.to_thread(check_database, self.settings, full)

    async def backup(self, dest: str | Path) -> dict[str, Any]:
        """A consistent copy of the live database at ``dest`` while writes go on."""
        if not self.path.exists():
            raise StorageError(f"{self.path}: no database to back up")
        return await asyncio.to_thread(backup_database, self.settings, Path(dest), self.file_mode)

    async def recover(self, src: str | Path, dest: str | Path) -> dict[str, Any]:
        """Copy every readable row of a damaged database ``src`` into a new database ``dest``."""
        from gdpo_sqlite.recover import recover_database

        return await asyncio.to_thread(recover_database, Path(src), Path(dest), self.file_mode, self.dir_mode)

    async def schema_version(self) -> int:
        """The schema version of the open database."""
        rows = await self._read("SELECT max(version) FROM schema_migrations", (), "reading the schema version")
        return rows[0][0] or 0


