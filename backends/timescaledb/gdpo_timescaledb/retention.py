"""Deleting records older than a cutoff: whole chunks with ``drop_chunks``, the rest by DELETE.

``drop_chunks`` removes only chunks that end at or before the cutoff; rows of the chunk that
straddles it are deleted one by one, so exactly the records older than the cutoff go.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from gdpo_timescaledb.tables import KindTable, quote_ident


def _deleted(status: str) -> int:
    # "DELETE 42"
    return int(status.rsplit(" ", 1)[-1])


async def delete_older_than(conn: asyncpg.Connection, table: KindTable, cutoff: Any) -> int:
    """Delete records whose time is before ``cutoff`` in one transaction; returns how many."""
    t = quote_ident(table.time_column)
    async with conn.transaction():
        if not table.hypertable:
            return _deleted(await conn.execute(f"DELETE FROM {table.qualified} WHERE {t} < $1", cutoff))
        whole = await conn.fetchval(
            "SELECT max(range_end) FROM timescaledb_information.chunks "
            "WHERE hypertable_schema = $1 AND hypertable_name = $2 AND range_end <= $3",
            table.schema, table.kind, cutoff)
        dropped = 0
        if whole is not None:
            dropped = await conn.fetchval(f"SELECT count(*) FROM {table.qualified} WHERE {t} < $1", whole)
            await conn.execute("SELECT drop_chunks($1::regclass, older_than => $2::timestamptz)",
                               table.regclass, cutoff)
        rest = _deleted(await conn.execute(f"DELETE FROM {table.qualified} WHERE {t} < $1", cutoff))
        return dropped + rest
