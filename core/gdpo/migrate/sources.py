"""Where a migration reads from: any storage, kind by kind, in adaptive time windows."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
from typing import AsyncIterator

from gdpo.storage import KIND_NAMES, Record, Storage, record_class

FAR_PAST = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
FAR_FUTURE = _dt.datetime(2200, 1, 1, tzinfo=_dt.timezone.utc)


def _is_date_kind(kind: str) -> bool:
    return record_class(kind).SPEC.field(record_class(kind).SPEC.time_field).type == "date"


def kind_bounds(kind: str, since: _dt.date | None, until: _dt.date | None, tz_midnight) -> tuple:
    """The read range of ``kind`` for optional local-date bounds (until inclusive)."""
    if _is_date_kind(kind):
        start = since or _dt.date(1970, 1, 1)
        end = (until + _dt.timedelta(days=1)) if until else _dt.date(2200, 1, 1)
        return start, end
    start = tz_midnight(since) if since else FAR_PAST
    end = tz_midnight(until + _dt.timedelta(days=1)) if until else FAR_FUTURE
    return start, end


async def iter_storage_records(storage: Storage, kind: str, start, end, *, target_rows: int = 5000
                               ) -> AsyncIterator[list[Record]]:
    """Records of ``kind`` in ``[start, end)`` in batches, oldest first, by adaptive time windows.

    The next window is read while the caller works on the current batch (one read ahead:
    a database does its part of the read off the event loop meanwhile)."""
    first = await storage.read(kind, start, end, limit=1)
    if not first:
        return
    newest = await storage.read(kind, start, end, limit=1, descending=True)
    cursor = first[0].time
    stop = newest[0].time
    date_kind = not isinstance(cursor, _dt.datetime)
    one = _dt.timedelta(days=1) if date_kind else _dt.timedelta(microseconds=1)
    stop = min(stop + one, end)
    window = _dt.timedelta(days=30) if date_kind else _dt.timedelta(hours=6)
    upper = min(cursor + window, stop)
    pending = asyncio.ensure_future(storage.read(kind, cursor, upper))
    try:
        while pending is not None:
            rows = await pending
            pending = None
            cursor = upper
            if len(rows) > 2 * target_rows and window > _dt.timedelta(minutes=1):
                window /= 2
            elif len(rows) < target_rows // 2:
                window *= 2
            if date_kind and window < _dt.timedelta(days=1):
                window = _dt.timedelta(days=1)
            if cursor < stop:
                upper = min(cursor + window, stop)
                pending = asyncio.ensure_future(storage.read(kind, cursor, upper))
            if rows:
                yield rows
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending


def all_kinds() -> tuple[str, ...]:
    """The record kinds in migration order."""
    return KIND_NAMES
