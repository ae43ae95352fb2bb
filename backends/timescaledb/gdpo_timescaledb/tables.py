"""Table layout: one table per record kind, columns in the record's FIELDS order.

Everything here is derived from the record kinds' specs (``gdpo.storage.records``), so
identifiers only ever come from code. Column types: ``timestamptz`` for datetimes,
``date``, ``double precision``, ``integer``, ``text`` and ``jsonb``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gdpo.storage import StorageError
from gdpo.storage.records import KIND_NAMES, KINDS

# Time series kinds stored as hypertables (partitioned by their time field).
HYPERTABLE_KINDS = ("energy_data", "system_state", "price_forecasts", "pv_forecasts")
FORECAST_KINDS = ("price_forecasts", "pv_forecasts")

SQL_TYPES = {
    "datetime": "timestamptz",
    "date": "date",
    "float": "double precision",
    "int": "integer",
    "str": "text",
    "bool": "boolean",
    "json": "jsonb",
}

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier; only lower-case names made of ``[a-z0-9_]`` are accepted."""
    if not _IDENTIFIER.match(name):
        raise StorageError(f"timescaledb: {name!r} is not an accepted identifier (use lower-case a-z, 0-9, _)")
    return f'"{name}"'


@dataclass(frozen=True)
class KindTable:
    """The SQL shape of one record kind in one schema."""

    kind: str
    schema: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    time_column: str
    hypertable: bool

    @property
    def qualified(self) -> str:
        """``"schema"."table"``."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.kind)}"

    @property
    def regclass(self) -> str:
        """The table name as text for regclass arguments (``schema.table``)."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.kind)}"

    @property
    def column_list(self) -> str:
        """Every column, quoted, in record order."""
        return ", ".join(quote_ident(c) for c in self.columns)

    @property
    def key_list(self) -> str:
        """The natural key columns, quoted."""
        return ", ".join(quote_ident(c) for c in self.key)

    def create_sql(self) -> str:
        """``CREATE TABLE`` for this kind (no hypertable conversion)."""
        spec = KINDS[self.kind]
        cols = []
        for f in spec.fields:
            null = " NOT NULL" if f.required or f.name in self.key else ""
            default = " DEFAULT '{}'::jsonb" if f.name == "payload" else ""
            if f.name == "payload":
                null = " NOT NULL"
            cols.append(f"{quote_ident(f.name)} {SQL_TYPES[f.type]}{null}{default}")
        cols.append(f"PRIMARY KEY ({self.key_list})")
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n  " + ",\n  ".join(cols) + "\n)"

    def index_sql(self) -> list[str]:
        """Secondary indexes: the time axis of kinds whose key is not the time."""
        if self.key[0] == self.time_column:
            return []
        name = quote_ident(f"{self.kind}_{self.time_column}_idx")
        return [f"CREATE INDEX IF NOT EXISTS {name} ON {self.qualified} ({quote_ident(self.time_column)})"]


def kind_table(kind: str, schema: str, *, timescale: bool) -> KindTable:
    """The :class:`KindTable` of ``kind`` in ``schema``."""
    spec = KINDS[kind]
    return KindTable(kind=kind, schema=schema, columns=spec.field_names, key=spec.key,
                     time_column=spec.time_field, hypertable=timescale and kind in HYPERTABLE_KINDS)


def all_tables(schema: str, *, timescale: bool) -> dict[str, KindTable]:
    """Every kind's table in ``schema``."""
    return {kind: kind_table(kind, schema, timescale=timescale) for kind in KIND_NAMES}
