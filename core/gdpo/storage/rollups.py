"""Hourly and quarter-hour rollups of raw ``energy_data``: what is kept after retention
deletes raw samples.

A rollup is one UTC hour (or quarter-hour, under the key ``<kind>@15m``) of one kind: the number of samples and, per numeric field, the
six partial statistics ``[n, sum, min, max, first, last]`` (n = non-null values; first and
last are the values at the earliest and latest sample). From them every aggregate function
(avg, min, max, sum, count, first, last) of any bucket of an hour or more (``<n>h``, local
``1d`` and ``1mo``) is exact, and so is any bucket of whole quarter-hours (``15m``, ``30m``)
from the quarter-hour rollups, so ``Storage.aggregate`` keeps answering over deleted ranges
(a backtest over last winter included).

Where rollups live: a backend may declare ``capabilities.rollups`` and implement the
OPTIONAL methods of :class:`RollupStore` (``write_rollups``, ``read_rollups``,
``rollup_bounds``) to keep them in its own database (SQLite and TimescaleDB do, in a
``storage_rollups`` table; json_legacy in a rollup file of its tree). For any other backend the
generic fallback :class:`SidecarRollupStore` keeps them in an SQLite file beside the
spool (``<data_directory>/rollups-<backend>.sqlite``).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as _dt
import math
import os
import sqlite3
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

from gdpo.storage import rollups_sql
from gdpo.storage.aggregate import bucket_edges, local_midnight_utc, parse_every, zone
from gdpo.storage.backend import AggregateSpec
from gdpo.storage.records import LOCAL_TZ_NAME, UTC, Record, record_class

#: Kinds rolled up before retention deletes them.
ROLLUP_KINDS = ("energy_data",)
HOUR = _dt.timedelta(hours=1)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
N, SUM, MIN, MAX, FIRST, LAST = range(6)
QUARTER = _dt.timedelta(minutes=15)
#: Daily rollups (local calendar days, LOCAL_TZ_NAME) are stored under ``<kind>@1d``.
DAY_SUFFIX = "@1d"
#: Quarter-hour rollups are stored under ``<kind>@15m``.
QUARTER_SUFFIX = "@15m"
_NAN = math.nan


def rollup_fields(kind: str) -> tuple[str, ...]:
    """The fields a rollup of ``kind`` keeps statistics of: every numeric field, in order."""
    return record_class(kind).SPEC.numeric_fields


def day_kind(kind: str) -> str:
    """The store key of the daily rollups of ``kind`` (local days in Europe/Warsaw)."""
    return kind + DAY_SUFFIX


def quarter_kind(kind: str) -> str:
    """The store key of the quarter-hour rollups of ``kind``."""
    return kind + QUARTER_SUFFIX


@lru_cache(maxsize=None)
def _layout(kind: str) -> tuple[struct.Struct, dict[str, int]]:
    fields = rollup_fields(kind.split("@", 1)[0])
    return struct.Struct(f"<{6 * len(fields)}d"), {f: 6 * i for i, f in enumerate(fields)}


@dataclass(frozen=True)
class Rollup:
    """One hour of one kind.

    ``values`` holds, for each of :func:`rollup_fields` in order, the six numbers
    ``n, sum, min, max, first, last`` (``n`` = 0 and NaNs where the field had no value);
    stores keep them as a little-endian float64 blob (:meth:`to_blob`).
    """

    kind: str
    start: _dt.datetime
    samples: int
    values: tuple[float, ...]

    @property
    def stats(self) -> dict[str, list]:
        """``{field: [n, sum, min, max, first, last]}`` of the fields that had values."""
        _, offsets = _layout(self.kind)
        v = self.values
        return {f: [int(v[o]), *v[o + 1:o + 6]] for f, o in offsets.items() if v[o]}

    def to_blob(self) -> bytes:
        """The stored form of ``values``."""
        return _layout(self.kind)[0].pack(*self.values)

    @classmethod
    def from_blob(cls, kind: str, start: _dt.datetime, samples: int, blob: bytes) -> "Rollup":
        """Rebuild a rollup read from a store."""
        return cls(kind, start, int(samples), _layout(kind)[0].unpack(bytes(blob)))

    @classmethod
    def from_stats(cls, kind: str, start: _dt.datetime, samples: int, stats: dict[str, Sequence]) -> "Rollup":
        """A rollup from ``{field: [n, sum, min, max, first, last]}``."""
        _, offsets = _layout(kind)
        values = [0.0, _NAN, _NAN, _NAN, _NAN, _NAN] * len(offsets)
        for f, st in stats.items():
            if st is not None and st[N]:
                values[offsets[f]:offsets[f] + 6] = [float(x) for x in st]
        return cls(kind, start, int(samples), tuple(values))


@runtime_checkable
class RollupStore(Protocol):
    """Where rollups are kept. A backend MAY implement these three methods (optional part
    of the backend protocol); otherwise the storage service uses a sidecar store."""

    async def write_rollups(self, kind: str, rollups: Sequence[Rollup]) -> int:
        """Upsert rollups on (kind, start); return how many were written."""

    async def read_rollups(self, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
        """Rollups with ``start <= rollup.start < end``, oldest first."""

    async def rollup_bounds(self, kind: str) -> tuple[_dt.datetime, _dt.datetime] | None:
        """Start of the oldest and of the newest rollup of ``kind``, or None."""


class RollupMethods:
    """Base class giving a backend the optional rollup methods of :class:`RollupStore`,
    delegating to ``rollup_io``: a module (or object) whose functions ``write_rollups``,
    ``read_rollups`` and ``rollup_bounds`` take the backend as first argument."""

    rollup_io: Any = None

    async def write_rollups(self, kind: str, rollups: Sequence[Rollup]) -> int:
        """Upsert hourly or daily rollups of ``kind``."""
        return await self.rollup_io.write_rollups(self, kind, rollups)

    async def read_rollups(self, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
        """Rollups of ``kind`` with ``start <= rollup.start < end``, oldest first."""
        return await self.rollup_io.read_rollups(self, kind, start, end)

    async def rollup_bounds(self, kind: str) -> tuple[_dt.datetime, _dt.datetime] | None:
        """Start of the oldest and newest rollup of ``kind``, or None."""
        return await self.rollup_io.rollup_bounds(self, kind)


def floor_hour(t: _dt.datetime) -> _dt.datetime:
    """The start of the UTC hour holding ``t``."""
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_quarter(t: _dt.datetime) -> _dt.datetime:
    """The start of the UTC quarter-hour holding ``t``."""
    t = t.astimezone(UTC)
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def compute_hourly(kind: str, records: Iterable[Record]) -> list[Rollup]:
    """Hourly rollups of records of ``kind`` (any order), oldest hour first."""
    return _compute(kind, kind, records, floor_hour)


def compute_quarters(kind: str, records: Iterable[Record]) -> list[Rollup]:
    """Quarter-hour rollups (key ``<kind>@15m``) of records of ``kind``, oldest first."""
    return _compute(kind, quarter_kind(kind), records, floor_quarter)


def _compute(kind: str, key: str, records: Iterable[Record], floor) -> list[Rollup]:
    cls = record_class(kind)
    t_idx = cls.INDEX[cls.SPEC.time_field]
    numeric = [(f, cls.INDEX[f]) for f in cls.SPEC.numeric_fields]
    periods: dict[_dt.datetime, list[tuple]] = {}
    for r in map(Record.as_tuple, records):
        periods.setdefault(floor(r[t_idx]), []).append(r)
    out = []
    for h in sorted(periods):
        rows = sorted(periods[h], key=lambda r: r[t_idx])
        stats: dict[str, list] = {}
        for name, i in numeric:
            vals = [r[i] for r in rows if r[i] is not None]
            if vals:
                stats[name] = [len(vals), float(sum(vals)), min(vals), max(vals), vals[0], vals[-1]]
        out.append(Rollup.from_stats(key, h, len(rows), stats))
    return out


def merge_stats(a: list | None, b: list | None) -> list | None:
    """Partial statistics of ``a`` followed in time by ``b``."""
    if a is None:
        return list(b) if b is not None else None
    if b is None:
        return list(a)
    return [a[N] + b[N], _either(a[SUM], b[SUM], lambda x, y: x + y), _either(a[MIN], b[MIN], min),
            _either(a[MAX], b[MAX], max), _either(a[FIRST], b[FIRST], lambda x, y: x),
            _either(a[LAST], b[LAST], lambda x, y: y)]


def _either(x, y, both):
    """``both(x, y)``, or whichever is not None (a partial a backend was not asked for is None)."""
    if x is None:
        return y
    return x if y is None else both(x, y)


def merge_late(fresh: Rollup, existing: Rollup | None) -> Rollup:
    """The rollup to store for an hour recomputed from raw samples.

    When the hour already has a rollup with more samples than the raw data now holds, its
    raw samples were deleted before and these are late arrivals: they are merged in.
    Otherwise (no rollup, or a retention run interrupted between writing rollups and
    deleting raw samples) the fresh rollup replaces the stored one.
    """
    if existing is None or fresh.samples >= existing.samples:
        return fresh
    old, new = existing.stats, fresh.stats
    stats = {f: merge_stats(old.get(f), new.get(f)) for f in set(old) | set(new)}
    return Rollup.from_stats(fresh.kind, fresh.start, existing.samples + fresh.samples, stats)


def merge_rollups(kind: str, start: _dt.datetime, rollups: Sequence[Rollup]) -> Rollup:
    """One rollup (starting at ``start``) of several consecutive ones, oldest first."""
    stats: dict[str, list] = {}
    for r in rollups:
        for f, st in r.stats.items():
            stats[f] = merge_stats(stats.get(f), st)
    return Rollup.from_stats(kind, start, sum(r.samples for r in rollups), stats)


async def write_daily(store: Any, kind: str, first: _dt.datetime, cutoff: _dt.datetime) -> int:
    """(Re)compute the daily rollups of every local day that starts at or after the day of
    ``first`` and ends by ``cutoff``, from the hourly rollups; return how many."""
    day = first.astimezone(zone(LOCAL_TZ_NAME)).date()
    out = []
    while True:
        start = local_midnight_utc(day)
        end = local_midnight_utc(day + _dt.timedelta(days=1))
        if end > cutoff:
            break
        hours = await store.read_rollups(kind, start, end)
        if hours:
            out.append(merge_rollups(day_kind(kind), start, hours))
        day += _dt.timedelta(days=1)
    return await store.write_rollups(day_kind(kind), out) if out else 0


async def rollups_for(store: Any, spec: AggregateSpec, boundary: _dt.datetime) -> list[Rollup]:
    """The rollups answering ``spec`` before ``boundary``, oldest first: daily rollups for whole
    local days (calendar buckets in the local zone), hourly rollups for the rest."""
    start = spec.start
    if spec.every in ("1d", "1mo") and spec.tz == LOCAL_TZ_NAME:
        days = await store.rollup_bounds(day_kind(spec.kind))
        if days is not None:
            first_day = start.astimezone(zone(LOCAL_TZ_NAME)).date()
            day_start = local_midnight_utc(first_day)
            if day_start < start:
                day_start = local_midnight_utc(first_day + _dt.timedelta(days=1))
            day_end = min(local_midnight_utc(days[1].astimezone(zone(LOCAL_TZ_NAME)).date() + _dt.timedelta(days=1)),
                          boundary)
            if day_start < day_end:
                head = await store.read_rollups(spec.kind, start, day_start)
                daily = await store.read_rollups(day_kind(spec.kind), day_start, day_end)
                covered = daily[-1].start if daily else day_start
                # hours of days without a daily rollup (not complete at the last run) come hourly
                covered_end = local_midnight_utc(covered.astimezone(zone(LOCAL_TZ_NAME)).date()
                                                 + _dt.timedelta(days=1)) if daily else day_start
                tail = await store.read_rollups(spec.kind, covered_end, boundary)
                return head + daily + tail
    return await store.read_rollups(spec.kind, start, boundary)


def answers_from_rollups(every: str) -> bool:
    """True when buckets of ``every`` are whole hours (so hourly rollups can answer them)."""
    n, unit = parse_every(every)
    return unit in ("h", "d", "mo")


def answers_from_quarters(every: str) -> bool:
    """True when buckets of ``every`` are whole quarter-hours shorter than an hour (``15m``,
    ``30m``, ``45m``: the quarter-hour rollups answer them)."""
    n, unit = parse_every(every)
    return unit == "m" and n % 15 == 0 and n < 60


# --------------------------------------------------------------------------- aggregation

_PARTIALS = {"avg": ("sum",), "sum": ("sum",), "count": (), "min": ("min",), "max": ("max",),
             "first": ("first",), "last": ("last",)}


def partial_spec(spec: AggregateSpec, start: _dt.datetime) -> AggregateSpec:
    """A spec asking a backend, from ``start``, for the partial statistics that the
    functions of ``spec`` need (always the count of non-null values of each field)."""
    needed: dict[str, dict[str, None]] = {}
    for _, f, fn in spec.fields:
        needed.setdefault(f, {"count": None}).update(dict.fromkeys(_PARTIALS[fn]))
    out = tuple((f"{f}\x1f{fn}", f, fn) for f, fns in needed.items() for fn in fns)
    # calendar buckets too are asked for in their own width: backends compute local days and
    # months natively (fewer rows to return and merge than by the hour); the first raw bucket
    # may start before ``start`` and is merged with the rollups of its head by combine()
    return AggregateSpec(spec.kind, start, spec.end, spec.every, out, spec.tz)


def combine(spec: AggregateSpec, rollups: Sequence[Rollup], raw_buckets: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Final buckets of ``spec`` from rollups (older part) and raw partial buckets (newer part,
    from a backend answering :func:`partial_spec`)."""
    fields = list(dict.fromkeys(f for _, f, _ in spec.fields))
    acc: dict[_dt.datetime, list] = {}  # bucket -> [rows, {field: stats}]
    if rollups:
        _, offsets = _layout(spec.kind)
        wanted = [(f, offsets[f]) for f in fields]
        edges = bucket_edges(rollups[0].start, rollups[-1].start + HOUR, spec.every, spec.tz)
        for r in rollups:
            b = edges[bisect.bisect_right(edges, r.start) - 1]
            slot = acc.get(b)
            if slot is None:
                slot = acc[b] = [0, {}]
            slot[0] += r.samples
            st = slot[1]
            v = r.values
            for f, o in wanted:
                if v[o]:
                    cur = st.get(f)
                    if cur is None:
                        st[f] = list(v[o:o + 6])
                    else:
                        cur[N] += v[o]
                        cur[SUM] += v[o + 1]
                        if v[o + 2] < cur[MIN]:
                            cur[MIN] = v[o + 2]
                        if v[o + 3] > cur[MAX]:
                            cur[MAX] = v[o + 3]
                        cur[LAST] = v[o + 5]
    raw_edges = None
    if raw_buckets and spec.every in ("1d", "1mo"):
        raw_edges = bucket_edges(raw_buckets[0]["bucket"], raw_buckets[-1]["bucket"] + HOUR, spec.every, spec.tz)
    for item in raw_buckets:
        b = item["bucket"]
        if raw_edges is not None:
            b = raw_edges[bisect.bisect_right(raw_edges, b) - 1]
        slot = acc.get(b)
        if slot is None:
            slot = acc[b] = [0, {}]
        slot[0] += item["count"]
        for f in fields:
            n = item.get(f"{f}\x1fcount") or 0
            if n:
                s = [n, item.get(f"{f}\x1fsum"), item.get(f"{f}\x1fmin"), item.get(f"{f}\x1fmax"),
                     item.get(f"{f}\x1ffirst"), item.get(f"{f}\x1flast")]
                slot[1][f] = merge_stats(slot[1].get(f), s)
    out = []
    for b in sorted(acc):
        rows, st = acc[b]
        item: dict[str, Any] = {"bucket": b, "count": rows}
        for name, f, fn in spec.fields:
            item[name] = _final(fn, st.get(f))
        out.append(item)
    return out


def _final(fn: str, s: list | None) -> Any:
    if fn == "count":
        return int(s[N]) if s else 0
    if not s or not s[N]:
        return None
    if fn == "avg":
        return s[SUM] / s[N]
    return s[{"sum": SUM, "min": MIN, "max": MAX, "first": FIRST, "last": LAST}[fn]]


# --------------------------------------------------------------------------- the stores


class SidecarRollupStore:
    """The generic fallback: rollups in an SQLite file of their own (stdlib ``sqlite3``,
    used from worker threads)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(rollups_sql.CREATE)
            self._conn = conn
        return self._conn

    def _write(self, kind: str, rollups: Sequence[Rollup]) -> int:
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    rollups_sql.UPSERT, [(kind, to_us(r.start), r.samples, r.to_blob()) for r in rollups])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return len(rollups)

    def _read(self, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
        with self._lock:
            rows = self._db().execute(rollups_sql.SELECT, (kind, to_us(start), to_us(end))).fetchall()
        return [Rollup.from_blob(kind, from_us(s), n, st) for s, n, st in rows]

    def _bounds(self, kind: str):
        with self._lock:
            lo, hi = self._db().execute(rollups_sql.BOUNDS, (kind,)).fetchone()
        return None if lo is None else (from_us(lo), from_us(hi))

    async def write_rollups(self, kind: str, rollups: Sequence[Rollup]) -> int:
        """Upsert rollups on (kind, start)."""
        return await asyncio.to_thread(self._write, kind, list(rollups)) if rollups else 0

    async def read_rollups(self, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
        """Rollups with ``start <= rollup.start < end``, oldest first."""
        return await asyncio.to_thread(self._read, kind, start, end)

    async def rollup_bounds(self, kind: str):
        """Start of the oldest and newest rollup of ``kind``, or None."""
        if not self.path.exists():
            return None
        return await asyncio.to_thread(self._bounds, kind)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class MemoryRollupStore:
    """Rollups in process memory (a Storage made without a data directory)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, _dt.datetime], Rollup] = {}

    async def write_rollups(self, kind: str, rollups: Sequence[Rollup]) -> int:
        """Upsert rollups."""
        for r in rollups:
            self._rows[(kind, r.start)] = r
        return len(rollups)

    async def read_rollups(self, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
        """Rollups in ``[start, end)``, oldest first."""
        return sorted((r for (k, t), r in self._rows.items() if k == kind and start <= t < end), key=lambda r: r.start)

    async def rollup_bounds(self, kind: str):
        """Oldest and newest rollup start, or None."""
        starts = [t for (k, t) in self._rows if k == kind]
        return (min(starts), max(starts)) if starts else None

    def close(self) -> None:
        """Nothing to release."""


def has_native_rollups(backend: Any) -> bool:
    """True when a backend keeps rollups itself: it declares ``capabilities.rollups`` and
    implements the optional rollup methods."""
    if not getattr(getattr(backend, "capabilities", None), "rollups", False):
        return False
    if isinstance(backend, RollupMethods) and backend.rollup_io is None:
        return False
    return all(callable(getattr(backend, m, None)) for m in ("write_rollups", "read_rollups", "rollup_bounds"))


def rollup_keys() -> tuple[str, ...]:
    """Every store key rollups are kept under: each rolled-up kind, hourly, daily and quarter-hourly."""
    return tuple(k for kind in ROLLUP_KINDS for k in (kind, day_kind(kind), quarter_kind(kind)))


def base_kind(key: str) -> str:
    """The record kind of a store key (``energy_data@1d`` -> ``energy_data``)."""
    return key.split("@", 1)[0]


def rollup_store_for(backend: Any, data_dir: Path | None) -> Any:
    """The store that keeps rollups of ``backend``: the backend itself, a sidecar file, or memory."""
    if has_native_rollups(backend):
        return backend
    if data_dir is not None:
        return SidecarRollupStore(data_dir / f"rollups-{backend.name}.sqlite")
    return MemoryRollupStore()


def to_us(t: _dt.datetime) -> int:
    """Epoch microseconds of an aware datetime."""
    d = t - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def from_us(us: int) -> _dt.datetime:
    """Aware UTC datetime of epoch microseconds."""
    return _EPOCH + _dt.timedelta(microseconds=us)
