"""Time buckets and aggregates: the shared semantics every backend implements.

``every`` is ``<n>m`` or ``<n>h`` (buckets of fixed width aligned to the Unix epoch in
UTC), or ``1d`` / ``1mo`` (local calendar days and months in ``tz``, Europe/Warsaw by
default, so a day bucket is 23 or 25 hours long on the DST days). A bucket is returned as
``{"bucket": <start as aware UTC datetime>, "count": <rows>, <name>: <value>, ...}``,
oldest first; buckets with no rows are left out.

Functions: ``avg``, ``min``, ``max``, ``sum`` and ``count`` ignore nulls (as SQL does);
``first`` and ``last`` are the non-null values at the earliest and latest time in the
bucket. ``fields`` maps a field to a function name (the output is named after the field)
or to a list of function names (outputs named ``<field>_<function>``).

:func:`reference_aggregate` computes the same in Python; the in-memory backend uses it,
and the conformance testkit checks every backend against it.
"""

from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from gdpo.storage.backend import AggregateSpec
from gdpo.storage.errors import StorageError
from gdpo.storage.records import KINDS, LOCAL_TZ_NAME, UTC, Record, parse_datetime, record_class

FUNCTIONS = ("avg", "min", "max", "sum", "count", "first", "last")
_EVERY = re.compile(r"^(\d+)(m|h|d|mo)$")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)


class AggregateError(StorageError, ValueError):
    """An aggregate request that cannot be answered (bad bucket, field or function)."""


def parse_every(every: str) -> tuple[int, str]:
    """Split a bucket width such as ``15m``, ``1h``, ``1d`` or ``1mo`` into (n, unit)."""
    m = _EVERY.match(every or "")
    if not m or int(m.group(1)) < 1:
        raise AggregateError(f"every={every!r}: use <n>m, <n>h, 1d or 1mo")
    n, unit = int(m.group(1)), m.group(2)
    if unit in ("d", "mo") and n != 1:
        raise AggregateError(f"every={every!r}: calendar buckets are 1d or 1mo")
    return n, unit


def bucket_seconds(every: str) -> int | None:
    """The fixed width of ``every`` in seconds, or None for calendar buckets (1d, 1mo)."""
    n, unit = parse_every(every)
    return n * 60 if unit == "m" else n * 3600 if unit == "h" else None


@lru_cache(maxsize=16)
def zone(tz: str) -> ZoneInfo:
    """The ZoneInfo for a timezone name, cached."""
    try:
        return ZoneInfo(tz)
    except Exception:
        raise AggregateError(f"unknown timezone {tz!r}") from None


def local_midnight_utc(day: _dt.date, tz: str = LOCAL_TZ_NAME) -> _dt.datetime:
    """The UTC instant at which local calendar day ``day`` starts in ``tz``."""
    return _dt.datetime(day.year, day.month, day.day, tzinfo=zone(tz)).astimezone(UTC)


def bucket_start(t: _dt.datetime | _dt.date, every: str, tz: str = LOCAL_TZ_NAME) -> _dt.datetime:
    """The start (aware UTC) of the bucket of width ``every`` that holds ``t``.

    A bare date (the time axis of ``daily_stats``) stands for its local midnight.
    """
    n, unit = parse_every(every)
    if not isinstance(t, _dt.datetime):
        t = local_midnight_utc(t, tz)
    if unit in ("m", "h"):
        width = n * (60 if unit == "m" else 3600)
        secs = int((t - _EPOCH).total_seconds() // width) * width
        return _EPOCH + _dt.timedelta(seconds=secs)
    local = t.astimezone(zone(tz)).date()
    if unit == "mo":
        local = local.replace(day=1)
    return local_midnight_utc(local, tz)


def bucket_edges(start: _dt.datetime, end: _dt.datetime, every: str, tz: str = LOCAL_TZ_NAME) -> list[_dt.datetime]:
    """Starts of every bucket that overlaps ``[start, end)``, plus the end of the last one.

    Backends without native calendar buckets can join against these edges.
    """
    n, unit = parse_every(every)
    edges = [bucket_start(start, every, tz)]
    while edges[-1] < end:
        cur = edges[-1]
        if unit in ("m", "h"):
            edges.append(cur + _dt.timedelta(seconds=n * (60 if unit == "m" else 3600)))
        else:
            local = cur.astimezone(zone(tz)).date()
            if unit == "d":
                nxt = local + _dt.timedelta(days=1)
            else:
                nxt = (local.replace(day=28) + _dt.timedelta(days=4)).replace(day=1)
            edges.append(local_midnight_utc(nxt, tz))
    return edges


def normalize_bound(kind: str, value: Any, tz: str = LOCAL_TZ_NAME):
    """A range bound in the type of the kind's time axis.

    Datetime axes take aware datetimes (normalised to UTC) or dates (their local
    midnight); the ``daily_stats`` date axis takes dates, or datetimes as their local date.
    """
    spec = KINDS[record_class(kind).KIND]
    axis = spec.field(spec.time_field)
    if axis.type == "date":
        if isinstance(value, _dt.datetime):
            return parse_datetime(value, kind=kind, field="range").astimezone(zone(tz)).date()
        if isinstance(value, _dt.date):
            return value
        return _dt.date.fromisoformat(value) if isinstance(value, str) else _bad_bound(kind, value)
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return local_midnight_utc(value, tz)
    return parse_datetime(value, kind=kind, field="range")


def _bad_bound(kind, value):
    raise AggregateError(f"{kind}: range bound must be a date or datetime, got {type(value).__name__}")


def make_spec(kind: str, start: Any, end: Any, every: str,
              fields: Mapping[str, str | Sequence[str]], tz: str = LOCAL_TZ_NAME) -> AggregateSpec:
    """Validate an aggregate request and return it as an :class:`AggregateSpec`."""
    cls = record_class(kind)
    parse_every(every)
    zone(tz)
    if not fields:
        raise AggregateError(f"{kind}: aggregate needs at least one field")
    numeric = set(cls.SPEC.numeric_fields)
    out: list[tuple[str, str, str]] = []
    for fname, fns in fields.items():
        if fname not in numeric:
            raise AggregateError(f"{kind}.{fname}: not a numeric field of {kind} (numeric: {', '.join(sorted(numeric))})")
        many = not isinstance(fns, str)
        for fn in ([fns] if not many else list(fns)):
            if fn not in FUNCTIONS:
                raise AggregateError(f"{kind}.{fname}: unknown function {fn!r} (use {', '.join(FUNCTIONS)})")
            out.append((f"{fname}_{fn}" if many else fname, fname, fn))
    return AggregateSpec(kind, normalize_bound(kind, start, tz), normalize_bound(kind, end, tz),
                         every, tuple(out), tz)


def reference_aggregate(records: Iterable[Record], spec: AggregateSpec) -> list[dict[str, Any]]:
    """Compute ``spec`` over ``records`` in Python (records already limited to the range)."""
    cls = record_class(spec.kind)
    t_idx = cls.INDEX[cls.SPEC.time_field]
    groups: dict[_dt.datetime, list[tuple]] = {}
    for r in records:
        row = r.as_tuple()
        groups.setdefault(bucket_start(row[t_idx], spec.every, spec.tz), []).append(row)
    result = []
    for b in sorted(groups):
        rows = sorted(groups[b], key=lambda r: _sort_key(r[t_idx], spec.tz))
        item: dict[str, Any] = {"bucket": b, "count": len(rows)}
        for out_name, fname, fn in spec.fields:
            i = cls.INDEX[fname]
            vals = [r[i] for r in rows if r[i] is not None]
            item[out_name] = _apply(fn, vals)
        result.append(item)
    return result


def _sort_key(t, tz):
    return t if isinstance(t, _dt.datetime) else local_midnight_utc(t, tz)


def _apply(fn: str, vals: list) -> Any:
    if fn == "count":
        return len(vals)
    if not vals:
        return None
    if fn == "avg":
        return sum(vals) / len(vals)
    if fn == "sum":
        return sum(vals)
    if fn == "min":
        return min(vals)
    if fn == "max":
        return max(vals)
    if fn == "first":
        return vals[0]
    return vals[-1]
