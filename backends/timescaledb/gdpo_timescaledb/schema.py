"""Schema creation and versioned migrations, applied under an advisory lock.

``open`` runs :func:`prepare` in one transaction that first takes a database-wide advisory
lock, so two processes starting together apply each migration once (the second waits,
then finds everything done). Applied versions are kept in ``gdpo_schema_migrations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

import asyncpg

from gdpo.storage.secrets import mask_secrets
from gdpo.storage import SchemaVersionError, StorageError
from gdpo_timescaledb import hourly_fold, policies
from gdpo_timescaledb.edition import ServerInfo, server_info
from gdpo_timescaledb.tables import FORECAST_KINDS, KindTable, all_tables, quote_ident

# One lock for every gdpo schema of a database: CREATE EXTENSION is database-wide.
ADVISORY_LOCK_KEY = 0x6764706F_736368  # "gdpo" "sch"


@dataclass(frozen=True)
class SchemaContext:
    """What a migration step needs."""

    schema: str
    tables: dict[str, KindTable]
    server: ServerInfo


Step = Callable[[asyncpg.Connection, SchemaContext], Awaitable[None]]


async def _v1_tables(conn: asyncpg.Connection, ctx: SchemaContext) -> None:
    for table in ctx.tables.values():
        await conn.execute(table.create_sql())
        for sql in table.index_sql():
            await conn.execute(sql)


async def _v2_superseded(conn: asyncpg.Connection, ctx: SchemaContext) -> None:
    """Step 2 made ``energy_data_hourly``, which nothing read; step 3 replaces it. A new schema
    skips it (the version stays recorded, so the numbering holds)."""


async def _v3_one_rollup_store(conn: asyncpg.Connection, ctx: SchemaContext) -> None:
    await hourly_fold.fold_and_drop(conn, ctx.schema)


MIGRATIONS: tuple[tuple[int, str, Step], ...] = (
    (1, "tables for the eight record kinds", _v1_tables),
    (2, "hourly energy rollup energy_data_hourly (superseded by 3)", _v2_superseded),
    (3, "one rollup store: storage_rollups, energy_data_hourly folded into it and dropped", _v3_one_rollup_store),
)
CURRENT_VERSION = MIGRATIONS[-1][0]


async def applied_versions(conn: asyncpg.Connection, schema: str) -> set[int]:
    """Migration versions already applied in ``schema``."""
    rows = await conn.fetch(f"SELECT version FROM {quote_ident(schema)}.gdpo_schema_migrations")
    return {r["version"] for r in rows}


async def _ensure_hypertables(conn: asyncpg.Connection, ctx: SchemaContext, intervals: dict[str, str]) -> None:
    existing = {r["hypertable_name"]: r["time_interval"] for r in await conn.fetch(
        "SELECT h.hypertable_name, d.time_interval FROM timescaledb_information.hypertables h "
        "JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name) "
        "WHERE h.hypertable_schema = $1", ctx.schema)}
    for kind, table in ctx.tables.items():
        if not table.hypertable:
            continue
        interval = intervals[kind]
        if kind not in existing:
            await conn.execute(
                "SELECT create_hypertable($1::regclass, $2::name, chunk_time_interval => $3::text::interval, "
                "migrate_data => true, if_not_exists => true)", table.regclass, table.time_column, interval)
        elif existing[kind] != await conn.fetchval("SELECT $1::text::interval", interval):
            await conn.execute("SELECT set_chunk_time_interval($1::regclass, $2::text::interval)",
                               table.regclass, interval)


async def prepare(conn: asyncpg.Connection, *, schema: str, require_timescale: bool, chunk_interval: str,
                  forecast_chunk_interval: str, policy_settings: "policies.PolicySettings | None",
                  server_name: str) -> ServerInfo:
    """Bring ``schema`` to the current version; returns what was found on the server.

    Without the timescaledb extension it refuses (nothing created) unless
    ``require_timescale`` is false. Must run inside a transaction: the advisory lock is
    released at its end.
    """
    await conn.execute("SELECT pg_advisory_xact_lock($1)", ADVISORY_LOCK_KEY)
    server = await server_info(conn)
    if not server.timescale and require_timescale:
        raise StorageError(
            f"timescaledb at {server_name}: the timescaledb extension cannot be used "
            f"({mask_secrets(server.unavailable_reason or 'unknown reason')}); install it on the server "
            f"(scripts/dev/install-timescaledb.sh for a development machine), or set "
            f"data_storage.timescaledb.require_timescale: false to run on plain PostgreSQL tables")
    ctx = SchemaContext(schema, all_tables(schema, timescale=server.timescale), server)
    if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
        await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")  # an existing one needs no privilege
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {quote_ident(schema)}.gdpo_schema_migrations ("
        "version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
    done = await applied_versions(conn, schema)
    newer = [v for v in done if v > CURRENT_VERSION]
    if newer:
        raise SchemaVersionError(
            f"timescaledb schema {schema!r} is at version {max(newer)}, newer than this gdpo "
            f"understands ({CURRENT_VERSION}): upgrade gdpo")
    intervals = {k: forecast_chunk_interval if k in FORECAST_KINDS else chunk_interval for k in ctx.tables}
    for version, name, step in MIGRATIONS:
        if version not in done:
            await step(conn, ctx)
            await conn.execute(f"INSERT INTO {quote_ident(schema)}.gdpo_schema_migrations (version, name) "
                               "VALUES ($1, $2)", version, name)
        if version == 1 and server.timescale:  # later steps (the continuous aggregate) need hypertables
            await _ensure_hypertables(conn, ctx, intervals)
    if server.tsl and policy_settings is not None:
        await policies.ensure_background_policies(conn, ctx.tables, schema, policy_settings)
    return server
