"""The SQL of each record kind's table: column list, UPSERT, range, latest and delete statements.

Tables are named after the kinds and their columns after the fields (FIELDS order), so a
row maps to a record position by position. Identifiers here come only from the record
specs in code, never from input; every value is a parameter.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import lru_cache

from gdpo.storage import records


@dataclass(frozen=True)
class TableSql:
    """The statements of one kind's table."""

    kind: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    time: str
    upsert: str
    select_range: str  # params: start, end; ordered by (time, key)
    select_range_desc: str
    latest: str
    delete_chunk: str  # params: cutoff, cutoff, limit
    count: str
    #: The UPSERT of ``rows_per_upsert`` rows in one statement (multi-row VALUES): it costs SQLite
    #: and the driver less per row than ``executemany`` of ``upsert`` (reset and re-bind per row).
    upsert_many: str
    rows_per_upsert: int

    @property
    def order_columns(self) -> tuple[str, ...]:
        """The columns of the (time, key) order, without repeats."""
        return tuple(dict.fromkeys((self.time,) + self.key))


def _order(cols: tuple[str, ...], desc: bool) -> str:
    return ", ".join(f"{c} DESC" if desc else c for c in cols)


#: Rows per multi-row UPSERT statement: at batches of 1,000, statements of 50 to 1,000 rows
#: measured alike (within this machine's noise), all about 0.8 x executemany of the one-row
#: UPSERT; 100 keeps the statement short. Fewer where that would pass SQLite's limit of bound
#: parameters (32,766 since SQLite 3.32, 999 before).
UPSERT_ROWS = 100
PARAMETER_LIMIT = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


@lru_cache(maxsize=None)
def table_sql(kind: str) -> TableSql:
    """The statements of the table of ``kind``."""
    spec = records.record_class(kind).SPEC
    cols = spec.field_names
    key, time = spec.key, spec.time_field
    col_list = ", ".join(cols)
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in key)
    one_row = f"({', '.join('?' * len(cols))})"
    conflict = f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    upsert = f"INSERT INTO {kind} ({col_list}) VALUES {one_row}{conflict}"
    per = max(1, min(UPSERT_ROWS, PARAMETER_LIMIT // len(cols)))
    upsert_many = f"INSERT INTO {kind} ({col_list}) VALUES {', '.join([one_row] * per)}{conflict}"
    order = tuple(dict.fromkeys((time,) + key))
    base = f"SELECT {col_list} FROM {kind} WHERE {time} >= ? AND {time} < ? ORDER BY "
    key_cols = ", ".join(key)
    key_tuple = key_cols if len(key) == 1 else f"({key_cols})"
    latest = (f"SELECT {col_list} FROM {kind} WHERE {time} = (SELECT max({time}) FROM {kind}) "
              f"ORDER BY {_order(key, True)} LIMIT 1")
    delete = (f"DELETE FROM {kind} WHERE {time} < ? AND {key_tuple} IN "
              f"(SELECT {key_cols} FROM {kind} WHERE {time} < ? ORDER BY {_order(order, False)} LIMIT ?)")
    return TableSql(kind, cols, key, time, upsert,
                    base + _order(order, False) + " LIMIT ?", base + _order(order, True) + " LIMIT ?",
                    latest, delete, f"SELECT count(*) FROM {kind}", upsert_many, per)


def all_tables() -> list[TableSql]:
    """The statements of every kind's table, in KIND_NAMES order."""
    return [table_sql(kind) for kind in records.KIND_NAMES]
