"""``TimescaleBackend``: the storage protocol on a TimescaleDB (or plain PostgreSQL) server.

Made by the plugin's factory as ``TimescaleBackend(options, context)``; ``open`` creates the
pool, creates the extension where it can and brings the schema to the current version. The
SQL lives in small modules: ``writes``, ``reads``, ``buckets``, ``retention``, ``stats``,
``schema``, ``policies``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Sequence

import asyncpg

from gdpo.storage import AggregateSpec, Capabilities, Health, RollupMethods, StorageError, WriteResult
from gdpo.storage.records import Record, record_class
from gdpo_timescaledb import buckets, dump, reads, retention, schema, service_rollups, stats, writes
from gdpo_timescaledb.connection import ConnectionManager
from gdpo_timescaledb.edition import ServerInfo
from gdpo_timescaledb.policies import PolicySettings
from gdpo_timescaledb.tables import KindTable, all_tables, quote_ident

log = logging.getLogger(__name__)


class TimescaleBackend(RollupMethods):
    """Stores every record kind on a TimescaleDB server (hypertables for the time series)."""

    rollup_io = service_rollups  # the optional rollup methods (storage service), see service_rollups.py

    capabilities = Capabilities(concurrent_writers=True, transactions=True, persistent=True, rollups=True,
                                max_payload_bytes=64 * 1024 * 1024)

    def __init__(self, options: dict[str, Any] | None = None, context: Any = None):
        options = dict(options or {})
        self.name = getattr(context, "name", None) or "timescaledb"
        self.options = options
        self.schema = options.get("schema") or "public"
        quote_ident(self.schema)  # reject a bad schema name before connecting
        self.require_timescale = options.get("require_timescale", True)
        self.connections = ConnectionManager(options)
        data_storage = getattr(context, "data_storage", None) or {}
        self.policy_settings = PolicySettings.from_data_storage(data_storage,
                                                                options.get("compress_after") or "7 days")
        self.policies_enabled = options.get("policies", True)
        self.server: ServerInfo | None = None
        self.write_paths: Counter[str] = Counter()  # batches by write path, since open
        self.tables: dict[str, KindTable] = {}

    # -- life cycle ----------------------------------------------------------------
    async def open(self) -> None:
        """Connect, create the extension where possible, migrate the schema."""
        await self.connections.open()
        try:
            self.server = await self.connections.run("preparing the schema", self._prepare)
        except BaseException:
            await self.connections.close()
            raise
        self.tables = all_tables(self.schema, timescale=self.server.timescale)
        info = self.server
        log.info("timescaledb at %s: schema %s, %s%s", self.connections.server, self.schema, info.mode,
                 f" {info.extension_version} ({info.edition} edition)" if info.timescale
                 else f" (timescaledb not in use: {info.unavailable_reason})")

    async def _prepare(self, conn: asyncpg.Connection) -> ServerInfo:
        async with conn.transaction():
            info = await schema.prepare(
                conn, schema=self.schema, require_timescale=self.require_timescale,
                chunk_interval=self.options.get("chunk_interval") or "7 days",
                forecast_chunk_interval=self.options.get("forecast_chunk_interval") or "30 days",
                policy_settings=self.policy_settings if self.policies_enabled else None,
                server_name=self.connections.server)
        return info

    async def close(self) -> None:
        """Close the pool. Safe to call twice."""
        await self.connections.close()

    def _table(self, kind: str) -> KindTable:
        record_class(kind)
        if not self.tables:
            raise StorageError(f"timescaledb at {self.connections.server}: the backend is not open")
        return self.tables[kind]

    @property
    def timescale(self) -> bool:
        """True when hypertables and time_bucket are in use."""
        return bool(self.server and self.server.timescale)

    # -- the protocol --------------------------------------------------------------
    async def health(self) -> Health:
        """A real round trip (``SELECT 1``) with its latency."""
        t0 = time.perf_counter()
        try:
            await self.connections.run("health check", lambda conn: conn.fetchval("SELECT 1"))
        except StorageError as exc:
            return Health(ok=False, backend=self.name, detail=str(exc))
        info = {"server": self.connections.server, "mode": self.server.mode if self.server else None,
                "edition": self.server.edition if self.server else None}
        return Health(ok=True, backend=self.name, detail=f"{info['mode']} at {self.connections.server}",
                      latency_ms=(time.perf_counter() - t0) * 1000, info=info)

    async def write_batch(self, kind: str, records: Sequence[Record]) -> WriteResult:
        """Store a batch in one transaction (small, append or upsert path), idempotent per key."""
        table = self._table(kind)
        if not records:
            return WriteResult(kind, 0, 0)
        result, path = await self.connections.run(f"writing {len(records)} {kind} records",
                                                  lambda conn: writes.write_batch(conn, table, records))
        self.write_paths[path] += 1
        return result

    async def read_range(self, kind: str, start: Any, end: Any, *, limit: int | None = None,
                         descending: bool = False) -> list[Record]:
        """Records with ``start <= time < end``, oldest first (newest first if descending)."""
        table = self._table(kind)
        return await self.connections.run(
            f"reading {kind}", lambda conn: reads.read_range(conn, table, start, end, limit=limit,
                                                             descending=descending))

    async def latest(self, kind: str) -> Record | None:
        """The newest record of ``kind``, or None."""
        table = self._table(kind)
        return await self.connections.run(f"reading the latest {kind}", lambda conn: reads.latest(conn, table))

    async def aggregate(self, spec: AggregateSpec) -> list[dict[str, Any]]:
        """Time buckets computed by the server (time_bucket, or date_bin on plain PostgreSQL)."""
        table = self._table(spec.kind)
        return await self.connections.run(
            f"aggregating {spec.kind}", lambda conn: buckets.aggregate(conn, table, spec, timescale=self.timescale))

    async def delete_older_than(self, kind: str, cutoff: Any) -> int:
        """Delete records older than ``cutoff`` (whole chunks dropped where possible)."""
        table = self._table(kind)
        return await self.connections.run(f"deleting old {kind}",
                                          lambda conn: retention.delete_older_than(conn, table, cutoff))

    async def stats(self) -> dict[str, Any]:
        """Counts per kind, server version and edition, hypertables with chunk counts and sizes."""
        tables = self.tables or {}
        out = await self.connections.run(
            "collecting statistics", lambda conn: stats.collect(conn, tables, self.server, self.schema))
        out["write_batches"] = dict(self.write_paths)
        return out

    backup_suffix = ".dump"  # a pg_dump, restored with pg_restore

    async def backup(self, dest: str) -> dict[str, Any]:
        """``gdpo db backup``: a consistent ``pg_dump`` of the database to ``dest`` (see ``dump``)."""
        return await dump.backup(self, dest)

    async def check(self, full: bool = False) -> dict[str, Any]:
        """``gdpo db check``: read every table through; ``full`` also amchecks the indexes.
        Works unopened too (it connects, and migrates nothing)."""
        opened = self.connections.pool is None
        if opened:
            await self.connections.open()
        try:
            if not self.tables:
                self.tables = all_tables(self.schema, timescale=True)
            return await dump.check(self, full)
        finally:
            if opened:
                await self.connections.close()
                self.tables = {}

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """ANALYZE (VACUUM ANALYZE with ``vacuum``) every table. Nothing is deleted or rolled
        up here: retention and its rollups are the storage service's job (``gdpo db retention``)."""
        done: dict[str, Any] = {"vacuum": vacuum}
        verb = "VACUUM ANALYZE" if vacuum else "ANALYZE"

        async def analyse(conn: asyncpg.Connection) -> None:
            for table in self.tables.values():
                await conn.execute(f"{verb} {table.qualified}")

        await self.connections.run(f"{verb.lower()}", analyse)
        done["analyzed"] = sorted(self.tables)
        return done
