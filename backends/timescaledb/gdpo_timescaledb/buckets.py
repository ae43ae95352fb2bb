"""Aggregates in SQL, with the bucket semantics of ``gdpo.storage.aggregate``.

* ``<n>m`` / ``<n>h``: fixed widths aligned to the Unix epoch in UTC:
  ``time_bucket(width, t, origin => 1970-01-01 UTC)`` (plain PostgreSQL: ``date_bin``).
* ``1d`` / ``1mo``: local calendar days and months: ``time_bucket(width, t, timezone)``
  (plain PostgreSQL: ``date_trunc(field, t, timezone)``), so a day is 23 or 25 hours long
  on DST days.
* ``first`` / ``last``: the non-null value at the earliest / latest time of the bucket
  (ties broken by the rest of the key, as the reference does).

The ``daily_stats`` time axis is a local date; it is bucketed as its local midnight.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from gdpo.storage import AggregateSpec, parse_every
from gdpo.storage.records import KINDS
from gdpo_timescaledb.tables import KindTable, quote_ident

EPOCH_SQL = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
_UNIT_INTERVAL = {"m": "minutes", "h": "hours", "d": "day", "mo": "month"}


def time_expr(table: KindTable) -> str:
    """The time axis as timestamptz (``{tz}`` stands for the timezone parameter)."""
    t = quote_ident(table.time_column)
    if KINDS[table.kind].field(table.time_column).type == "date":
        return f"({t}::timestamp AT TIME ZONE {{tz}}::text)"
    return t


def bucket_expr(every: str, t: str, *, timescale: bool) -> tuple[str, str]:
    """SQL for the bucket start of ``t`` (``{tz}``, ``{width}`` stand for parameters), and the width."""
    n, unit = parse_every(every)
    width = f"{n} {_UNIT_INTERVAL[unit]}"
    if unit in ("m", "h"):
        fn = "time_bucket" if timescale else "date_bin"
        return f"{fn}({{width}}::text::interval, {t}, {EPOCH_SQL})", width
    if timescale:
        return f"time_bucket({{width}}::text::interval, {t}, {{tz}}::text)", width
    field = "day" if unit == "d" else "month"
    return f"date_trunc('{field}', {t}, {{tz}}::text)", width


def _function_sql(fn: str, col: str, order_asc: str, order_desc: str) -> str:
    if fn == "avg":
        return f"avg({col})::double precision"
    if fn in ("min", "max", "sum", "count"):
        return f"{fn}({col})"
    order = order_asc if fn == "first" else order_desc
    return f"(array_agg({col} ORDER BY {order}) FILTER (WHERE {col} IS NOT NULL))[1]"


def aggregate_sql(table: KindTable, spec: AggregateSpec, *, timescale: bool) -> tuple[str, list[Any]]:
    """The aggregate query and its parameters ($1 start, $2 end, then timezone / width as used)."""
    t = time_expr(table)
    bucket, width = bucket_expr(spec.every, t, timescale=timescale)
    rest = [quote_ident(k) for k in table.key if k != table.time_column]
    asc = ", ".join([t] + rest)
    desc = ", ".join(f"{c} DESC" for c in [t] + rest)
    outputs = [f"{_function_sql(fn, quote_ident(field), asc, desc)} AS c{i}"
               for i, (_, field, fn) in enumerate(spec.fields)]
    tc = quote_ident(table.time_column)
    sql = (f"SELECT {bucket} AS bucket, count(*) AS n, {', '.join(outputs)} FROM {table.qualified} "
           f"WHERE {tc} >= $1 AND {tc} < $2 GROUP BY 1 ORDER BY 1")
    params: list[Any] = [spec.start, spec.end]
    for token, value in (("{tz}", spec.tz), ("{width}", width)):
        if token in sql:
            params.append(value)
            sql = sql.replace(token, f"${len(params)}")
    return sql, params


async def aggregate(conn: asyncpg.Connection, table: KindTable, spec: AggregateSpec, *,
                    timescale: bool) -> list[dict[str, Any]]:
    """Buckets of ``spec`` as ``{"bucket", "count", <output>...}`` dicts, oldest first."""
    sql, params = aggregate_sql(table, spec, timescale=timescale)
    rows = await conn.fetch(sql, *params)
    names = [name for name, _, _ in spec.fields]
    out = []
    for row in rows:
        item: dict[str, Any] = {"bucket": row[0], "count": row[1]}
        for i, name in enumerate(names):
            item[name] = row[i + 2]
        out.append(item)
    return out
