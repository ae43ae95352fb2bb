"""Local calendar days and their quarter-hours, in UTC.

A business (delivery) day is a local Europe/Warsaw calendar day. It has 96 quarter-hours,
92 on the March DST day and 100 on the October one. Every quarter is identified by its
START instant in UTC.
"""

from __future__ import annotations

import datetime as _dt
from zoneinfo import ZoneInfo

from gdpo.storage.aggregate import local_midnight_utc
from gdpo.storage.records import LOCAL_TZ_NAME, UTC

LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)
QUARTER = _dt.timedelta(minutes=15)
QUARTER_MINUTES = 15


def day_bounds_utc(day: _dt.date) -> tuple[_dt.datetime, _dt.datetime]:
    """(start, end) of local calendar day ``day`` as UTC instants (end exclusive)."""
    return local_midnight_utc(day), local_midnight_utc(day + _dt.timedelta(days=1))


def day_quarter_starts(day: _dt.date) -> list[_dt.datetime]:
    """The UTC start of every quarter-hour of local day ``day`` (92, 96 or 100 of them)."""
    start, end = day_bounds_utc(day)
    count = int((end - start) / QUARTER)
    return [start + i * QUARTER for i in range(count)]


def local_date(instant: _dt.datetime) -> _dt.date:
    """The local (Europe/Warsaw) calendar date of an aware instant."""
    return instant.astimezone(LOCAL_TZ).date()


def to_local(instant: _dt.datetime) -> _dt.datetime:
    """An aware instant in local (Europe/Warsaw) time."""
    return instant.astimezone(LOCAL_TZ)


def as_utc(instant: _dt.datetime) -> _dt.datetime:
    """An aware datetime in UTC; a naive one is rejected (its timezone is never guessed)."""
    if not isinstance(instant, _dt.datetime) or instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {instant!r}")
    return instant.astimezone(UTC)


def quarter_floor(instant: _dt.datetime) -> _dt.datetime:
    """The UTC start of the quarter-hour containing ``instant`` (an aware datetime)."""
    t = as_utc(instant)
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def days_touching(start: _dt.datetime, end: _dt.datetime) -> list[_dt.date]:
    """Local days that overlap the UTC interval ``[start, end)``."""
    if end <= start:
        return []
    first, last = local_date(start), local_date(end - _dt.timedelta(microseconds=1))
    return [first + _dt.timedelta(days=i) for i in range((last - first).days + 1)]
