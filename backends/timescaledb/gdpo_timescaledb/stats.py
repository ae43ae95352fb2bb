"""``stats()``: counts per kind, server version and edition, hypertables with chunks and sizes."""

from __future__ import annotations

from typing import Any

import asyncpg

from gdpo.storage.rollups_sql import TABLE as ROLLUP_TABLE
from gdpo_timescaledb.edition import ServerInfo
from gdpo_timescaledb.schema import CURRENT_VERSION, applied_versions
from gdpo_timescaledb.tables import KindTable


async def _hypertables(conn: asyncpg.Connection, schema: str) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT h.hypertable_name AS name, d.time_interval::text AS time_interval, "
        "  (SELECT count(*) FROM timescaledb_information.chunks c "
        "    WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name) AS chunks, "
        "  hypertable_size(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass) AS size_bytes, "
        "  h.compression_enabled "
        "FROM timescaledb_information.hypertables h "
        "JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name) "
        "WHERE h.hypertable_schema = $1 ORDER BY 1", schema)
    return {r["name"]: {"chunks": r["chunks"], "size_bytes": r["size_bytes"],
                        "chunk_interval": r["time_interval"], "compression": r["compression_enabled"]}
            for r in rows}


async def _jobs(conn: asyncpg.Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT job_id, proc_name, hypertable_name, schedule_interval::text AS every "
        "FROM timescaledb_information.jobs WHERE hypertable_schema = $1 ORDER BY job_id", schema)
    return [dict(r) for r in rows]


async def collect(conn: asyncpg.Connection, tables: dict[str, KindTable], server: ServerInfo,
                  schema: str) -> dict[str, Any]:
    """Everything ``gdpo db status`` shows about this backend."""
    kinds = {}
    sizes = {}
    for kind, table in tables.items():
        kinds[kind] = await conn.fetchval(f"SELECT count(*) FROM {table.qualified}")
        if not table.hypertable:
            sizes[kind] = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table.regclass)
    out: dict[str, Any] = {
        "kinds": kinds,
        "mode": server.mode,
        "postgres_version": server.postgres_version,
        "timescaledb_version": server.extension_version,
        "edition": server.edition,
        "schema": schema,
        "schema_version": max(await applied_versions(conn, schema), default=0),
        "schema_version_expected": CURRENT_VERSION,
        "table_sizes_bytes": sizes,
        "database_size_bytes": await conn.fetchval("SELECT pg_database_size(current_database())"),
    }
    if server.unavailable_reason and not server.timescale:
        out["timescaledb_unavailable"] = server.unavailable_reason
    if server.timescale:
        out["hypertables"] = await _hypertables(conn, schema)
        out["jobs"] = await _jobs(conn, schema)
    out["rollups"] = {"relation": ROLLUP_TABLE, "written_by": "the storage service's retention job"}
    return out
