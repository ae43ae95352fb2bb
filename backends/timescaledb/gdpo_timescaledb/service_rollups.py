"""The storage service's rollups on the server (the optional backend methods
``write_rollups`` / ``read_rollups`` / ``rollup_bounds``, see ``gdpo.storage.rollups``).

The one rollup store of this backend: a plain table ``storage_rollups`` (kind, start
timestamptz, samples, stats bytea: the columns of ``gdpo.storage.rollups_sql`` in this
dialect) in the backend's schema, created by schema step 3 (which also folded the old
``energy_data_hourly`` into it, see ``hourly_fold``).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

import asyncpg

from gdpo.storage import Rollup
from gdpo.storage.rollups_sql import TABLE
from gdpo_timescaledb.tables import quote_ident

UPSERT = ("INSERT INTO {table} (kind, start, samples, stats) VALUES ($1, $2, $3, $4) "
          "ON CONFLICT (kind, start) DO UPDATE SET samples = excluded.samples, stats = excluded.stats")


def qualified(schema: str) -> str:
    """``"schema"."storage_rollups"``."""
    return f"{quote_ident(schema)}.{quote_ident(TABLE)}"


async def create(conn: asyncpg.Connection, schema: str) -> None:
    """Create the table (idempotent): its one definition for this backend."""
    await conn.execute(f"CREATE TABLE IF NOT EXISTS {qualified(schema)} (kind text NOT NULL, "
                       f"start timestamptz NOT NULL, samples integer NOT NULL, stats bytea NOT NULL, "
                       f"PRIMARY KEY (kind, start))")


async def write_rollups(backend: Any, kind: str, rollups: Sequence[Rollup]) -> int:
    """Upsert rollups in one transaction."""
    if not rollups:
        return 0
    sql = UPSERT.format(table=qualified(backend.schema))
    rows = [(kind, r.start, r.samples, r.to_blob()) for r in rollups]

    async def work(conn):
        async with conn.transaction():
            await conn.executemany(sql, rows)

    await backend.connections.run(f"writing {len(rows)} {kind} rollups", work)
    return len(rows)


async def read_rollups(backend: Any, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
    """Rollups with ``start <= rollup.start < end``, oldest first."""
    table = qualified(backend.schema)
    rows = await backend.connections.run(f"reading {kind} rollups", lambda conn: conn.fetch(
        f"SELECT start, samples, stats FROM {table} WHERE kind = $1 AND start >= $2 AND start < $3 "
        f"ORDER BY start", kind, start, end))
    return [Rollup.from_blob(kind, r[0], r[1], r[2]) for r in rows]


async def rollup_bounds(backend: Any, kind: str) -> tuple[_dt.datetime, _dt.datetime] | None:
    """Start of the oldest and newest rollup of ``kind``, or None."""
    table = qualified(backend.schema)
    row = await backend.connections.run(f"reading {kind} rollup bounds", lambda conn: conn.fetchrow(
        f"SELECT min(start), max(start) FROM {table} WHERE kind = $1", kind))
    return None if row is None or row[0] is None else (row[0], row[1])
