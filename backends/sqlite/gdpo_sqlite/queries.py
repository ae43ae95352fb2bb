"""Aggregates in SQL: GROUP BY on computed buckets, with first/last by index lookups.

Fixed-width buckets (``<n>m``, ``<n>h``) are computed from the integer microsecond
timestamp (floor to a multiple of the width, aligned to the epoch). Local-calendar
buckets (``1d``, ``1mo``) on a timestamp axis are computed by arithmetic too: the edges of
the range (from ``gdpo.storage.bucket_edges``, so the semantics are the reference's) are
cut into a few pieces, a run of 24-hour days with one UTC offset (``ts`` floored to whole
days shifted by the offset) or one bucket of another length (a DST day, a month: a
constant), and a binary CASE tree over the piece boundaries picks the piece of a row.
Every bucket of the ``daily_stats`` date axis is given as a small JSON table of
``[lo, hi, bucket]`` rows that is joined against the time index, one index range per bucket.

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


DAY_US = 86_400 * 1_000_000


def calendar_pieces(spec: AggregateSpec, edge_us: list[int]) -> list[tuple[int, bool, int]]:
    """``(hi, shifted, value)`` pieces covering the calendar buckets with edges ``edge_us``
    (epoch µs, from ``bucket_edges``), oldest first.

    A row before ``hi`` (and at or after the previous piece's ``hi``) is in bucket
    ``value`` when not ``shifted``; when ``shifted``, the piece is a run of 24-hour local
    days whose midnights are ``value`` µs after a multiple of a day (the negated UTC offset),
    and the bucket is ``ts`` floored to that grid.
    """
    pieces: list[tuple[int, bool, int]] = []
    for lo, hi in zip(edge_us, edge_us[1:]):
        if spec.every == "1d" and hi - lo == DAY_US:
            phase = lo % DAY_US
            if pieces and pieces[-1][1] and pieces[-1][2] == phase and pieces[-1][0] == lo:
                pieces[-1] = (hi, True, phase)
                continue
            pieces.append((hi, True, phase))
        else:
            pieces.append((hi, False, lo))
    return pieces


def _case_tree(time: str, pieces: list[tuple[int, bool, int]], params: list[int]) -> str:
    """SQL choosing the bucket of ``time`` among ``pieces`` by binary search (appends parameters)."""
    if len(pieces) == 1:
        _, shifted, value = pieces[0]
        params.append(value)
        n = len(params)
        return f"({time} - ((({time} - ?{n}) % {DAY_US}) + {DAY_US}) % {DAY_US})" if shifted else f"?{n}"
    mid = len(pieces) // 2
    params.append(pieces[mid - 1][0])
    n = len(params)
    left = _case_tree(time, pieces[:mid], params)
    right = _case_tree(time, pieces[mid:], params)
    return f"CASE WHEN {time} < ?{n} THEN {left} ELSE {right} END"


def calendar_bucket_sql(time: str, pieces: list[tuple[int, bool, int]]) -> tuple[str, list[int]]:
    """The bucket expression of calendar ``pieces`` and its parameters (numbered from ?3)."""
    params: list[int] = [0, 0]  # ?1 and ?2 are the range bounds
    return _case_tree(time, pieces, params), params[2:]


#: Up to this many calendar buckets, each is one statement without GROUP BY (run in one hop):
#: an index range scan per bucket costs less than sorting every row for a GROUP BY.
MAX_BUCKET_STATEMENTS = 400


def aggregate_sql(spec: AggregateSpec, use_bucket_table: bool, pieces: list | None = None, *,
                  one_bucket: bool = False) -> str:
    """The aggregate query of ``spec``.

    Parameters: ``(start, end)`` for fixed-width buckets, ``(start, end, *piece_values)``
    for calendar ``pieces`` (see :func:`calendar_pieces`), ``(json_bucket_table,)`` for the
    date axis, ``(lo, hi, bucket)`` for ``one_bucket`` (one bucket, no GROUP BY; a row
    with count 0 when the bucket is empty). Result columns: bucket (epoch µs), row count,
    then one column per requested output.
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
    elif one_bucket:
        grouped = f"SELECT ?3 AS b, {aggs} FROM {kind} WHERE {time} >= ?1 AND {time} < ?2"
        prefix = ""
    else:
        if pieces is not None:
            bucket, _ = calendar_bucket_sql(time, pieces)
        else:
            width = bucket_seconds(spec.every) * 1_000_000
            bucket = f"{time} - (({time} % {width}) + {width}) % {width}"
        grouped = f"SELECT {bucket} AS b, {aggs} FROM {kind} WHERE {time} >= ?1 AND {time} < ?2 GROUP BY b"
        prefix = ""
    return f"{prefix}SELECT g.b, g.n{''.join(', ' + o for o in outer)} FROM ({grouped}) AS g ORDER BY g.b"


def needs_bucket_table(spec: AggregateSpec) -> bool:
    """True when buckets come from a JSON table (the date axis)."""
    return is_date_axis(spec.kind)


def needs_data_range(spec: AggregateSpec) -> bool:
    """True when the query is built from the time range of the data (calendar buckets, date axis)."""
    return is_date_axis(spec.kind) or bucket_seconds(spec.every) is None


def aggregate_params(spec: AggregateSpec, first: Any = None, last: Any = None,
                     pieces: list | None = None) -> tuple:
    """Parameters of :func:`aggregate_sql` (``first``/``last``: time range of the data, for
    bucket tables; ``pieces``: the calendar pieces the query was built with)."""
    if needs_bucket_table(spec):
        return (json.dumps(bucket_table(spec, first, last)),)
    bounds = (bound_to_column(spec.kind, spec.start), bound_to_column(spec.kind, spec.end))
    if pieces is not None:
        return bounds + tuple(calendar_bucket_sql("t", pieces)[1])
    return bounds


def bucket_rows_to_dicts(spec: AggregateSpec, rows: list[tuple]) -> list[dict[str, Any]]:
    """Result rows as ``{"bucket": aware UTC datetime, "count": n, <output>: value}`` dicts."""
    names = [out for out, _, _ in spec.fields]
    out = []
    for row in rows:
        item = {"bucket": us_to_datetime(row[0]), "count": row[1]}
        item.update(zip(names, row[2:]))
        out.append(item)
    return out


def aggregate_query(spec: AggregateSpec, first: Any = None, last: Any = None) -> tuple[str, list[tuple]]:
    """SQL of ``spec`` and one parameter tuple per execution (rows with count 0 are empty
    buckets, to be left out); ``first``/``last`` (the time range of the data within the
    spec's range, see :func:`time_range_sql`) are needed when :func:`needs_data_range`."""
    if needs_bucket_table(spec):
        return aggregate_sql(spec, True), [aggregate_params(spec, first, last)]
    if not needs_data_range(spec):
        return aggregate_sql(spec, False), [aggregate_params(spec)]
    edges = bucket_edges(us_to_datetime(first), us_to_datetime(last + 1), spec.every, spec.tz)
    edge_us = [datetime_to_us(e) for e in edges]
    if len(edges) <= MAX_BUCKET_STATEMENTS + 1:
        start_us, end_us = datetime_to_us(spec.start), datetime_to_us(spec.end)
        return (aggregate_sql(spec, False, one_bucket=True),
                [(max(lo, start_us), min(hi, end_us), lo) for lo, hi in zip(edge_us, edge_us[1:])])
    pieces = calendar_pieces(spec, edge_us)
    return aggregate_sql(spec, False, pieces), [aggregate_params(spec, first, last, pieces)]
