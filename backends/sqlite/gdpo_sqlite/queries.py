"""Aggregates in SQL: GROUP BY on computed buckets, with first/last by index lookups.

Fixed-width buckets (``<n>m``, ``<n>h``) are computed from the integer microsecond
timestamp (floor to a multiple of the width, aligned to the epoch). Local-calendar
buckets (``1d``, ``1mo``) and every bucket of the ``daily_stats`` date axis are given as
a small JSON table of ``[lo, hi, bucket]`` rows (from ``gdpo.storage.bucket_edges``) that
is joined against the time index, one index range per bucket.

``first``/``last`` are the non-null values at the earliest/latest time in a bucket (ties
broken by the natural key, as the reference does): the grouped query finds that time,
then one index lookup per bucket fetches the value.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from gdpo.storage import AggregateSpec, bucket_edges, bucket_seconds, bucket_start, records

from gdpo_sqlite.codec import bound_to_column, datetime_to_us, us_to_datetime
from gdpo_sqlite.schema import table_sql

_SQL_FUNCTIONS = {"avg": "avg", "min": "min", "max": "max", "sum": "sum", "count": "count"}


def is_date_axis(kind: str) -> bool:
    """True for a kind whose time axis is a local date (daily_stats)."""
    spec = records.record_class(kind).SPEC
    return spec.field(spec.time_field).type == "date"


def time_range_sql(kind: str) -> str:
    """SQL for the first and last time value of ``kind`` within ``[?, ?)`` (two index probes)."""
    t = table_sql(kind)
    return (f"SELECT (SELECT {t.time} FROM {kind} WHERE {t.time} >= ?1 AND {t.time} < ?2 ORDER BY {t.time} LIMIT 1), "
            f"(SELECT {t.time} FROM {kind} WHERE {t.time} >= ?1 AND {t.time} < ?2 ORDER BY {t.time} DESC LIMIT 1)")


def bucket_table(spec: AggregateSpec, first: Any, last: Any) -> list[list[Any]]:
    """``[lo, hi, bucket_us]`` rows covering ``[first, last]`` (column values of the time axis)."""
    if is_date_axis(spec.kind):
        day = _dt.date.fromisoformat(first)
        stop = _dt.date.fromisoformat(last)
        rows = []
        while day <= stop:
            nxt = day + _dt.timedelta(days=1)
            rows.append([day.isoformat(), nxt.isoformat(), datetime_to_us(bucket_start(day, spec.every, spec.tz))])
            day = nxt
        return rows
    start_us, end_us = datetime_to_us(spec.start), datetime_to_us(spec.end)
    edges = bucket_edges(us_to_datetime(first), us_to_datetime(last + 1), spec.every, spec.tz)
    edge_us = [datetime_to_us(e) for e in edges]
    return [[max(lo, start_us), min(hi, end_us), lo] for lo, hi in zip(edge_us, edge_us[1:])]


def aggregate_sql(spec: AggregateSpec, use_bucket_table: bool) -> str:
    """The aggregate query of ``spec``.

    Parameters: ``(start, end)`` for fixed-width buckets, ``(json_bucket_table,)`` otherwise.
    Result columns: bucket (epoch µs), row count, then one column per requested output.
    """
    kind = spec.kind
    t = table_sql(kind)
    time = f"{kind}.{t.time}"
    inner: list[str] = []
    outer: list[str] = []
    for i, (_, fname, fn) in enumerate(spec.fields):
        col = f"{kind}.{fname}"
        if fn in _SQL_FUNCTIONS:
            inner.append(f"{_SQL_FUNCTIONS[fn]}({col}) AS a{i}")
            outer.append(f"g.a{i}")
        else:
            pick = "min" if fn == "first" else "max"
            inner.append(f"{pick}(CASE WHEN {col} IS NOT NULL THEN {time} END) AS a{i}")
            order = ", ".join(f"k.{c}{' DESC' if fn == 'last' else ''}" for c in t.key)
            outer.append(f"(SELECT k.{fname} FROM {kind} AS k WHERE k.{t.time} = g.a{i} AND k.{fname} IS NOT NULL "
                         f"ORDER BY {order} LIMIT 1)")
    aggs = ", ".join(["count(*) AS n"] + inner)
    if use_bucket_table:
        grouped = (f"SELECT buckets.b AS b, {aggs} FROM buckets CROSS JOIN {kind} "
                   f"ON {time} >= buckets.lo AND {time} < buckets.hi GROUP BY buckets.b")
        prefix = ("WITH buckets(lo, hi, b) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                  "json_extract(value, '$[2]') FROM json_each(?)) ")
    else:
        width = bucket_seconds(spec.every) * 1_000_000
        grouped = (f"SELECT {time} - (({time} % {width}) + {width}) % {width} AS b, {aggs} FROM {kind} "
                   f"WHERE {time} >= ? AND {time} < ? GROUP BY b")
        prefix = ""
    return f"{prefix}SELECT g.b, g.n{''.join(', ' + o for o in outer)} FROM ({grouped}) AS g ORDER BY g.b"


def needs_bucket_table(spec: AggregateSpec) -> bool:
    """True when buckets come from a JSON table (calendar buckets, or the date axis)."""
    return is_date_axis(spec.kind) or bucket_seconds(spec.every) is None


def aggregate_params(spec: AggregateSpec, first: Any = None, last: Any = None) -> tuple:
    """Parameters of :func:`aggregate_sql` (``first``/``last``: time range of the data, for bucket tables)."""
    if needs_bucket_table(spec):
        return (json.dumps(bucket_table(spec, first, last)),)
    return (bound_to_column(spec.kind, spec.start), bound_to_column(spec.kind, spec.end))


def bucket_rows_to_dicts(spec: AggregateSpec, rows: list[tuple]) -> list[dict[str, Any]]:
    """Result rows as ``{"bucket": aware UTC datetime, "count": n, <output>: value}`` dicts."""
    names = [out for out, _, _ in spec.fields]
    out = []
    for row in rows:
        item = {"bucket": us_to_datetime(row[0]), "count": row[1]}
        item.update(zip(names, row[2:]))
        out.append(item)
    return out
