"""Writes: one transaction per batch, idempotent on the natural key.

Three paths:

* **small** (at most ``SMALL_BATCH_MAX`` records, e.g. the coordinator's one decision or
  session at a time): one prepared statement, ``INSERT ... SELECT * FROM unnest($1::type[],
  ...) ON CONFLICT (key) DO UPDATE``, one round trip and one transaction (a single
  statement is atomic). The batch is de-duplicated first (the last record of a key wins),
  since one statement may not touch a row twice.
* **append** (time series written after everything stored): when the batch's earliest
  time is later than the newest time in the table, no stored row can share a key with it,
  so it is copied straight into the table: one ``COPY`` statement, which is its own
  transaction (no ``BEGIN``/``COMMIT`` round trips), as fast as the driver gets. The
  primary key guards the rest: if a concurrent writer got there first, or the batch holds
  two records with one key, the copy fails with a unique violation, stores nothing, and
  the batch takes the upsert path (the batch is not searched for repeats beforehand: that
  would cost every batch a pass over its keys, for the rare one that has them). A retried
  batch finds its own rows stored (its earliest time is no longer later than the newest)
  and takes the upsert path too.
* **upsert** (everything else): ``COPY`` into a temporary table, then
  ``INSERT ... ON CONFLICT (key) DO UPDATE``, in one transaction; the last of several
  records with one key wins.

The records reach ``COPY`` as a lazy ``map(astuple, records)``: each becomes the tuple the
driver encodes only as the driver reaches it, so the batch is never held twice and the
conversion of the later rows runs while the server already parses the first 512 KB the
driver sent (``benchmarks/timescaledb_bench.py``; docs/storage-timescaledb.md, "Writes").
"""

from __future__ import annotations

from functools import lru_cache
from operator import attrgetter, lt
from typing import Callable, Iterable, Sequence

import asyncpg

from gdpo.storage import WriteResult
from msgspec.structs import astuple  # Record.as_tuple without a Python call per record

from gdpo.storage.records import Record, record_class
from gdpo_timescaledb.tables import SQL_TYPES, KindTable, quote_ident

# Batches up to this size take the small path; larger ones the COPY paths. One statement
# with array parameters costs about one round trip at any size below this, while COPY
# costs three or four (measured in docs/storage-timescaledb.md, "Writes").
SMALL_BATCH_MAX = 50


@lru_cache(maxsize=None)
def key_getter(kind: str) -> Callable[[Record], object]:
    """The natural key of a record of ``kind``: the value of a one-field key, else a tuple."""
    return attrgetter(*record_class(kind).SPEC.key)


def unique_by_key(kind: str, records: Sequence[Record]) -> Sequence[Record]:
    """The records with one per natural key (the last wins), in their order."""
    keys = list(map(key_getter(kind), records))
    if all(map(lt, keys, keys[1:])) or len(set(keys)) == len(keys):  # ordered batches skip hashing
        return records
    return list(dict(zip(keys, records)).values())  # the last record of a key wins


def appendable(table: KindTable) -> bool:
    """Kinds whose key holds the time axis can take the append path."""
    return table.time_column in table.key


def as_rows(records: Iterable[Record]) -> Iterable[tuple]:
    """The records as the tuples the driver binds (values in FIELDS order), made one at a
    time as the driver takes them."""
    return map(astuple, records)


async def _copy(conn: asyncpg.Connection, table_name: str, schema: str | None, table: KindTable,
                records: Sequence[Record]) -> None:
    await conn.copy_records_to_table(table_name, records=as_rows(records), columns=list(table.columns),
                                     schema_name=schema)


def earliest(table: KindTable, records: Sequence[Record]):
    """The earliest time of a batch."""
    return min(map(attrgetter(table.time_column), records))


async def try_append(conn: asyncpg.Connection, table: KindTable, records: Sequence[Record]) -> bool:
    """Copy ``records`` straight into the table, in one statement, if they all come after
    what is stored.

    Returns False (nothing written) when they do not; raises UniqueViolationError when a
    stored row or another record of the batch has one of their keys (the statement stores
    nothing).
    """
    newest = await conn.fetchval(f"SELECT max({quote_ident(table.time_column)}) FROM {table.qualified}")
    if newest is not None and earliest(table, records) <= newest:
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


async def small_upsert(conn: asyncpg.Connection, table: KindTable, records: Sequence[Record]) -> int:
    """Upsert a few records (no two with one key) in one statement; returns new keys."""
    return await conn.fetchval(small_insert_sql(table), *map(list, zip(*as_rows(records))))


async def upsert(conn: asyncpg.Connection, table: KindTable, records: Sequence[Record]) -> int:
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
    if len(records) > SMALL_BATCH_MAX and appendable(table):
        try:
            if await try_append(conn, table, records):
                return WriteResult(table.kind, len(records), len(records)), "append"
        except asyncpg.UniqueViolationError:
            pass  # stored by a concurrent writer first, or repeated in the batch: upsert instead
    records = unique_by_key(table.kind, records)
    n = len(records)
    if n <= SMALL_BATCH_MAX:
        return WriteResult(table.kind, n, await small_upsert(conn, table, records)), "small"
    async with conn.transaction():
        inserted = await upsert(conn, table, records)
    return WriteResult(table.kind, n, inserted), "upsert"
