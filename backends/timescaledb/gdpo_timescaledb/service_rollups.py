"""The storage service's hourly rollups on the server (the optional backend methods
``write_rollups`` / ``read_rollups`` / ``rollup_bounds``, see ``gdpo.storage.rollups``).

Kept apart from this backend's own ``energy_data_hourly`` view: one plain table
``storage_rollups`` (kind, start timestamptz, samples, stats bytea) in the backend's
schema, created on the first write; reads before that answer "no rollups".
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from gdpo.storage import Rollup

TABLE = "storage_rollups"


def _q(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '".' + TABLE


async def write_rollups(backend: Any, kind: str, rollups: Sequence[Rollup]) -> int:
    """Upsert rollups in one transaction."""
    if not rollups:
        return 0
    table = _q(backend.schema)
    rows = [(kind, r.start, r.samples, r.to_blob()) for r in rollups]

    async def work(conn):
        async with conn.transaction():
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (kind text NOT NULL, start timestamptz NOT NULL, "
                               f"samples integer NOT NULL, stats bytea NOT NULL, PRIMARY KEY (kind, start))")
            await conn.executemany(
                f"INSERT INTO {table} (kind, start, samples, stats) VALUES ($1, $2, $3, $4) "
                f"ON CONFLICT (kind, start) DO UPDATE SET samples = excluded.samples, stats = excluded.stats", rows)

    await backend.connections.run(f"writing {len(rows)} {kind} rollups", work)
    return len(rows)


async def _exists(conn, schema: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _q(schema)))


async def read_rollups(backend: Any, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
    """Rollups with ``start <= rollup.start < end``, oldest first."""
    table = _q(backend.schema)

    async def work(conn):
        if not await _exists(conn, backend.schema):
            return []
        return await conn.fetch(f"SELECT start, samples, stats FROM {table} WHERE kind = $1 AND start >= $2 "
                                f"AND start < $3 ORDER BY start", kind, start, end)

    rows = await backend.connections.run(f"reading {kind} rollups", work)
    return [Rollup.from_blob(kind, r[0], r[1], r[2]) for r in rows]


async def rollup_bounds(backend: Any, kind: str) -> tuple[_dt.datetime, _dt.datetime] | None:
    """Start of the oldest and newest rollup of ``kind``, or None."""
    table = _q(backend.schema)

    async def work(conn):
        if not await _exists(conn, backend.schema):
            return None
        return await conn.fetchrow(f"SELECT min(start), max(start) FROM {table} WHERE kind = $1", kind)

    row = await backend.connections.run(f"reading {kind} rollup bounds", work)
    return None if row is None or row[0] is None else (row[0], row[1])
