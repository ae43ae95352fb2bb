"""Reads: ranges, the latest record, and rows rebuilt as records without re-validation."""

from __future__ import annotations

from typing import Any

import asyncpg

from gdpo.storage.records import Record, record_class
from gdpo_timescaledb.tables import KindTable, quote_ident


def order_by(table: KindTable, descending: bool) -> str:
    """ORDER BY the time axis, then the rest of the key (ties in a fixed order)."""
    direction = " DESC" if descending else ""
    cols = [table.time_column] + [k for k in table.key if k != table.time_column]
    return ", ".join(quote_ident(c) + direction for c in cols)


def range_sql(table: KindTable, *, descending: bool, limit: bool) -> str:
    """SELECT of ``start <= time < end`` ($1, $2), with LIMIT $3 when ``limit``."""
    t = quote_ident(table.time_column)
    sql = (f"SELECT {table.column_list} FROM {table.qualified} WHERE {t} >= $1 AND {t} < $2 "
           f"ORDER BY {order_by(table, descending)}")
    return sql + " LIMIT $3" if limit else sql


def to_records(kind: str, rows: list[asyncpg.Record]) -> list[Record]:
    """Rows (columns in FIELDS order) as records of ``kind``."""
    # without a Python call per row (the 1-day read spends most of its own time here)
    return record_class(kind).many_from_trusted(rows)


async def read_range(conn: asyncpg.Connection, table: KindTable, start: Any, end: Any, *,
                     limit: int | None = None, descending: bool = False) -> list[Record]:
    """Records with ``start <= time < end``, oldest first (newest first if descending)."""
    if limit is not None:
        rows = await conn.fetch(range_sql(table, descending=descending, limit=True), start, end, limit)
    else:
        rows = await conn.fetch(range_sql(table, descending=descending, limit=False), start, end)
    return to_records(table.kind, rows)


async def latest(conn: asyncpg.Connection, table: KindTable) -> Record | None:
    """The record with the greatest time (ties: the greatest key), or None."""
    row = await conn.fetchrow(f"SELECT {table.column_list} FROM {table.qualified} "
                              f"ORDER BY {order_by(table, True)} LIMIT 1")
    return None if row is None else record_class(table.kind).from_trusted(row)
