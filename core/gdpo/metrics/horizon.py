"""Known prices as seen from now: hours known ahead, whether tomorrow is complete, the local offset.

Pure functions over ``price_forecasts`` records (or anything with ``period_start`` and
``period_minutes``): no I/O. Tomorrow is the next local (Europe/Warsaw) calendar day; a day
is complete when each of its quarter-hours (92, 96 or 100) is covered by a stored period.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from gdpo.prices.timeline import day_quarter_starts, local_date
from gdpo.storage.records import LOCAL_TZ_NAME

QUARTER = _dt.timedelta(minutes=15)


def _periods(rows: Iterable[Any]) -> list[tuple[_dt.datetime, _dt.datetime]]:
    out = set()
    for r in rows:
        minutes = getattr(r, "period_minutes", None) or 15
        out.add((r.period_start, r.period_start + _dt.timedelta(minutes=minutes)))
    return sorted(out)


def known_ahead_hours(rows: Iterable[Any], now: _dt.datetime) -> float:
    """Hours from ``now`` to the end of the unbroken run of known periods that holds ``now``
    (0 when the current period itself is unknown)."""
    end = None
    for start, stop in _periods(rows):
        if end is None:
            if start <= now < stop:
                end = stop
            elif start > now:
                return 0.0
        elif start <= end:
            end = max(end, stop)
        else:
            break
    return 0.0 if end is None else round((end - now).total_seconds() / 3600.0, 4)


def tomorrow_known(rows: Iterable[Any], now: _dt.datetime) -> bool:
    """True when every quarter-hour of the local day after ``now`` has a known price."""
    tomorrow = local_date(now) + _dt.timedelta(days=1)
    covered = set()
    for start, stop in _periods(rows):
        t = start
        while t < stop:
            covered.add(t)
            t += QUARTER
    return all(q in covered for q in day_quarter_starts(tomorrow))


def utc_offset_seconds(now: _dt.datetime, tz: str = LOCAL_TZ_NAME) -> float:
    """The offset of local time from UTC at ``now`` (3600 in Polish winter, 7200 in summer)."""
    return now.astimezone(ZoneInfo(tz)).utcoffset().total_seconds()
