"""The storage service's hourly rollups in the SQLite file (the optional backend methods
``write_rollups`` / ``read_rollups`` / ``rollup_bounds``, see ``gdpo.storage.rollups``).

Kept apart from the record tables: one table ``storage_rollups`` (kind, start in epoch
microseconds, samples, stats as a float64 blob), defined once in ``gdpo.storage.rollups_sql``
(the sidecar store of the storage service uses the same), created on the first write; reads
before that find no table and answer "no rollups".
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from gdpo.storage import UTC, Rollup
from gdpo.storage.rollups_sql import BOUNDS, CREATE, EXISTS, SELECT, TABLE, UPSERT

# the table and its statements: one definition for every SQLite rollup store
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)


def _us(t: _dt.datetime) -> int:
    d = t - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


def _dt_of(us: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(microseconds=us)


async def write_rollups(backend: Any, kind: str, rollups: Sequence[Rollup]) -> int:
    """Upsert rollups in one transaction of the backend's writer."""
    if not rollups:
        return 0
    writer, _ = backend._require_open()
    rows = [(kind, _us(r.start), r.samples, r.to_blob()) for r in rollups]

    def work(conn):  # in the writer thread, inside the writer's transaction
        conn.execute(CREATE)
        conn.executemany(UPSERT, rows)

    await writer.transaction(work, f"writing {len(rows)} {kind} rollups")
    backend._rollup_table_seen = True
    return len(rows)


async def _exists(backend: Any) -> bool:
    """True once the rollup table exists (remembered: the table is never dropped while open)."""
    if getattr(backend, "_rollup_table_seen", False):
        return True
    seen = bool(await backend._read(EXISTS, (TABLE,), "looking for rollups"))
    backend._rollup_table_seen = seen
    return seen


async def read_rollups(backend: Any, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
    """Rollups with ``start <= rollup.start < end``, oldest first."""
    if not await _exists(backend):
        return []
    rows = await backend._read(SELECT, (kind, _us(start), _us(end)), f"reading {kind} rollups")
    return [Rollup.from_blob(kind, _dt_of(s), n, st) for s, n, st in rows]


async def rollup_bounds(backend: Any, kind: str) -> tuple[_dt.datetime, _dt.datetime] | None:
    """Start of the oldest and newest rollup of ``kind``, or None."""
    if not await _exists(backend):
        return None
    ((lo, hi),) = await backend._read(BOUNDS, (kind,), f"reading {kind} rollup bounds")
    return None if lo is None else (_dt_of(lo), _dt_of(hi))
