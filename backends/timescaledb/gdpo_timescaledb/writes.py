"""Writes: one transaction per batch, idempotent on the natural key.

Three paths:

* **small** (at most ``SMALL_BATCH_MAX`` records, e.g. the coordinator's one decision or
  session at a time): one prepared statement, ``INSERT ... SELECT * FROM unnest($1::type[],
  ...) ON CONFLICT (key) DO UPDATE``, one round trip and one transaction (a single
  statement is atomic). The batch is de-duplicated first (the last record of a key wins),
  since one statement may not touch a row twice.
* **append** (time series written after everything stored): when the batch has no two
  records with one key and its earliest time is later than the newest time in the table,
  no stored row can share a key with it, so it is copied straight into the table
  (``COPY``, as fast as the driver gets). The primary key still guards the table: if a
  concurrent writer got there first, the copy fails with a unique violation, rolls back,
  and the batch takes the upsert path. A retried batch finds its own rows stored (its
  earliest time is no longer later than the newest) and takes the upsert path too.
* **upsert** (everything else): ``COPY`` into a temporary table, then
  ``INSERT ... ON CONFLICT (key) DO UPDATE``; the last of several records with one key wins.
"""

from __future__ import annotations

from functools import lru_cache
from operator import itemgetter, lt
from typing import Sequence

import asyncpg

from gdpo.storage import WriteResult
from msgspec.structs import astuple  # Record.as_tuple without a Python call per record

from gdpo.storage.records import Record, record_class
from gdpo_timescaledb.tables import SQL_TYPES, KindTable, quote_ident

# Batches up to this size take the small path; larger ones the COPY paths. One statement
# with array parameters costs about one round trip at any size below this, while COPY
# costs three or four (measured in docs/storage-timescaledb.md, "Writes").
SMALL_BATCH_MAX = 50


Row = tuple  # a record's values in FIELDS order (``Record.as_tuple``): what asyncpg binds


def unique_by_key(kind: str, records: Sequence[Row]) -> tuple[Sequence[Row], bool]:
    """The rows with one per natural key (the last wins), and whether there were repeats."""
    cls = record_class(kind)
    key_of = itemgetter(*(cls.INDEX[k] for k in cls.SPEC.key))
    keys = list(map(key_of, records))
    if all(map(lt, keys, keys[1:])) or len(set(keys)) == len(keys):  # ordered batches skip hashing
        return records, False
    by_key = dict(zip(keys, records))  # the last record of a key wins
    return list(by_key.values()), True


def appendable(table: KindTable) -> bool:
    """Kinds whose key holds the time axis can take the append path."""
    return table.time_column in table.key


async def _copy(conn: asyncpg.Connection, table_name: str, schema: str | None, table: KindTable,
                records: Sequence[Row]) -> None:
    await conn.copy_records_to_table(table_name, records=records, columns=list(table.columns), schema_name=schema)


async def try_append(conn: asyncpg.Connection, table: KindTable, records: Sequence[Row]) -> bool:
    """Copy ``records`` straight into the table if they all come after what is stored.

    Returns False (nothing written) when they do not; raises UniqueViolationError when a
    concurrent writer stored one of the keys first (the caller's transaction rolls back).
    """
    batch_min = min(map(itemgetter(record_class(table.kind).INDEX[table.time_column]), records))
    newest = await conn.fetchval(f"SELECT max({quote_ident(table.time_column)}) FROM {table.qualified}")
    if newest is not None and batch_min <= newest:
        return False
    await _copy(conn, table.kind, table.schema, table, records)
    return True


def _stage_name(table: KindTable) -> str:
    return f"gdpo_stage_{table.kind}"


def _updates(table: KindTable) -> str:
    return ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in table.columns if c not in table.key)


def _unchanged(table: KindTable) -> str:
    """True when the stored row already holds the incoming values (``IS NOT DISTINCT FROM``
    treats NULLs as equal; jsonb compares by value)."""
    cols = [c for c in table.columns if c not in table.key]
    stored = ", ".join(f"{table.qualified}.{quote_ident(c)}" for c in cols)
    incoming = ", ".join(f"EXCLUDED.{quote_ident(c)}" for c in cols)
    return f"({stored}) IS NOT DISTINCT FROM ({incoming})"


def _counting_insert(table: KindTable, source: str) -> str:
    """``INSERT ... SELECT <source> ON CONFLICT DO UPDATE`` that returns the number of new keys.

    A row whose stored values are already the incoming ones is left alone (a retried or
    replayed batch writes no new row versions: ``benchmarks/timescaledb_bench.py``, upsert path)."""
    return (f"WITH up AS (INSERT INTO {table.qualified} ({table.column_list}) SELECT {source} "
            f"ON CONFLICT ({table.key_list}) DO UPDATE SET {_updates(table)} WHERE NOT {_unchanged(table)} "
            f"RETURNING (xmax = 0) AS inserted) SELECT count(*) FILTER (WHERE inserted) FROM up")


@lru_cache(maxsize=None)
def small_insert_sql(table: KindTable) -> str:
    """The small path's statement: one typed array parameter per column, unnested into rows."""
    types = {f.name: SQL_TYPES[f.type] for f in record_class(table.kind).SPEC.fields}
    arrays = ", ".join(f"${i}::{types[c]}[]" for i, c in enumerate(table.columns, start=1))
    return _counting_insert(table, f"* FROM unnest({arrays})")


async def small_upsert(conn: asyncpg.Connection, table: KindTable, records: Sequence[Row]) -> int:
    """Upsert a few records (no two with one key) in one statement; returns new keys."""
    return await conn.fetchval(small_insert_sql(table), *map(list, zip(*records)))


async def upsert(conn: asyncpg.Connection, table: KindTable, records: Sequence[Row]) -> int:
    """COPY into a temporary table, then INSERT ... ON CONFLICT DO UPDATE; returns new keys."""
    stage = _stage_name(table)
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {quote_ident(stage)} "
                       f"(LIKE {table.qualified} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    await _copy(conn, stage, None, table, records)
    return await conn.fetchval(_counting_insert(table, f"{table.column_list} FROM {quote_ident(stage)}"))


async def write_batch(conn: asyncpg.Connection, table: KindTable,
                      records: Sequence[Record]) -> tuple[WriteResult, str]:
    """Store ``records`` in one transaction; returns the result and the path taken
    (``small``, ``append`` or ``upsert``)."""
    if not records:
        return WriteResult(table.kind, 0, 0), "none"
    rows, repeated = unique_by_key(table.kind, list(map(astuple, records)))
    if len(rows) <= SMALL_BATCH_MAX:
        return WriteResult(table.kind, len(rows), await small_upsert(conn, table, rows)), "small"
    if appendable(table) and not repeated:
        try:
            async with conn.transaction():
                if await try_append(conn, table, rows):
                    return WriteResult(table.kind, len(rows), len(rows)), "append"
                inserted = await upsert(conn, table, rows)
            return WriteResult(table.kind, len(rows), inserted), "upsert"
        except asyncpg.UniqueViolationError:
            pass  # a concurrent writer stored some of these keys first: upsert instead
    async with conn.transaction():
        inserted = await upsert(conn, table, rows)
    return WriteResult(table.kind, len(rows), inserted), "upsert"
