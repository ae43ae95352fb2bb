"""PSE rows to a complete day of quarter-hour prices with UTC starts.

Time semantics of a PSE row (``csdac-pln``, ``rce-pln``):

* ``dtime`` is the END of the period in local time: the price of 09:45-10:00 has
  ``dtime`` 10:00, and the last period of a day has ``dtime`` = next day 00:00 with the same
  ``business_date``.
* ``period`` ("09:45 - 10:00") gives the local start and the length; ``dtime_utc`` and
  ``period_utc`` are the same in UTC. The UTC fields are preferred, then ``period``, then
  ``dtime`` minus the period length. On the October DST night local times repeat: rows
  without UTC fields are told apart by their order (first occurrence = summer time).
* Older days are hourly: each hour becomes four quarters with the same price.

A day is accepted only when it has every quarter of the local day (92, 96 or 100), with no
conflicting duplicates and nothing outside the day.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections import Counter
from typing import Any, Iterable, Mapping

from gdpo.prices.errors import IncompleteDayError, PseResponseError
from gdpo.prices.model import PRICE_FIELDS, MarketDay, MarketQuarter
from gdpo.prices.timeline import LOCAL_TZ, QUARTER, day_quarter_starts, to_local
from gdpo.storage.records import UTC

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
ALLOWED_LENGTHS = (15, 60)


def parse_day(rows: Iterable[Any], business_date: _dt.date, source: str) -> MarketDay:
    """Validate and normalise the PSE rows of ``business_date`` into a complete MarketDay.

    Raises ``PseResponseError`` for a row without a required field or with a bad value
    (naming the row), and ``IncompleteDayError`` when quarters are missing or conflict.
    """
    price_field = PRICE_FIELDS.get(source)
    if price_field is None:
        raise ValueError(f"unknown price source {source!r}")
    where = f"{source} {business_date}"
    parsed = [_row(i, row, business_date, price_field, where) for i, row in enumerate(rows)]
    if not parsed:
        raise IncompleteDayError(f"{where}: no prices published yet (empty response; PSE publishes the "
                                 f"next day around 12:45 local time)",
                                 missing=len(day_quarter_starts(business_date)))
    default_length = _infer_length(parsed, where)
    seen_local: dict[_dt.datetime, int] = {}
    quarters: dict[_dt.datetime, MarketQuarter] = {}
    published: list[_dt.datetime] = [p["published"] for p in parsed if p["published"] is not None]
    for p in parsed:
        length = p["length"] or default_length
        start = _start_utc(p, length, seen_local, where)
        for k in range(length // 15):
            q_start = start + k * QUARTER
            q = MarketQuarter(q_start, p["price"] / 1000.0, length)
            old = quarters.get(q_start)
            if old is not None and old.price_pln_kwh != q.price_pln_kwh:
                raise IncompleteDayError(f"{where}: two different prices for the quarter starting "
                                         f"{_local_label(q_start)} (row {p['index']})")
            quarters[q_start] = q
    expected = day_quarter_starts(business_date)
    outside = sorted(set(quarters) - set(expected))
    if outside:
        raise IncompleteDayError(f"{where}: row(s) outside the delivery day, first at {_local_label(outside[0])}")
    missing = [t for t in expected if t not in quarters]
    if missing:
        shown = ", ".join(_local_label(t) for t in missing[:4]) + (" ..." if len(missing) > 4 else "")
        raise IncompleteDayError(f"{where}: incomplete day, {len(quarters)} of {len(expected)} quarter-hours "
                                 f"(missing {len(missing)}: {shown})", missing=len(missing))
    return MarketDay(business_date, source, tuple(quarters[t] for t in expected),
                     published_at=max(published) if published else None)


def _row(index: int, row: Any, business_date: _dt.date, price_field: str, where: str) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise PseResponseError(f"{where}: row {index} is not an object: {row!r:.80}")
    at = f"{where}: row {index}"
    bd = row.get("business_date")
    if bd is None:
        raise PseResponseError(f"{at}: missing field 'business_date'")
    if str(bd)[:10] != business_date.isoformat():
        raise PseResponseError(f"{at}: business_date {bd!r} is not the requested {business_date}")
    if price_field not in row or row[price_field] is None:
        raise PseResponseError(f"{at}: missing field {price_field!r}")
    price = row[price_field]
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price):
        raise PseResponseError(f"{at}: {price_field} is not a number: {price!r}")
    out: dict[str, Any] = {"index": index, "price": float(price), "length": None, "end_utc": None,
                           "local_start": None, "local_end": None}
    period_utc, period = row.get("period_utc"), row.get("period")
    for name, value in (("period_utc", period_utc), ("period", period)):
        if value is not None:
            out["length"] = _period_length(value, f"{at}: {name}")
            if out["length"] is not None:
                break
    if row.get("dtime_utc") is not None:
        out["end_utc"] = _naive(row["dtime_utc"], f"{at}: dtime_utc", utc=True)
    elif period is not None:
        out["local_start"] = _period_start(period, business_date, f"{at}: period")
    elif row.get("dtime") is not None:
        out["local_end"] = _naive(row["dtime"], f"{at}: dtime")
    else:
        raise PseResponseError(f"{at}: missing field 'dtime' (and no 'dtime_utc' or 'period')")
    out["published"] = _published(row)
    return out


def _period_length(value: Any, at: str) -> int | None:
    """Minutes from the start to the end of 'HH:MM - HH:MM'; None when a DST change inside
    the period makes the wall-clock length off by an hour (the length is then inferred)."""
    m = _PERIOD.match(value) if isinstance(value, str) else None
    if not m:
        raise PseResponseError(f"{at}: {value!r} is not 'HH:MM - HH:MM'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    length = ((h2 * 60 + m2) - (h1 * 60 + m1)) % 1440
    if length in ALLOWED_LENGTHS:
        return length
    if any((length + shift) % 1440 in ALLOWED_LENGTHS for shift in (60, -60)):
        return None
    raise PseResponseError(f"{at}: {value!r} is {length} minutes long; expected 15 or 60")


def _period_start(value: str, business_date: _dt.date, at: str) -> _dt.datetime:
    m = _PERIOD.match(value)
    h, mi = int(m.group(1)), int(m.group(2))
    if h > 23 or mi > 59:
        raise PseResponseError(f"{at}: {value!r} does not start at a time of day")
    return _dt.datetime.combine(business_date, _dt.time(h, mi))


def _naive(value: Any, at: str, *, utc: bool = False) -> _dt.datetime:
    """A PSE timestamp ('YYYY-MM-DD HH:MM[:SS]', '24:00' allowed) as a naive datetime
    (or aware UTC with ``utc``)."""
    if not isinstance(value, str):
        raise PseResponseError(f"{at}: not a timestamp: {value!r}")
    text = value.strip().replace("T", " ")
    shift = _dt.timedelta(0)
    if text[11:16] == "24:00":
        text, shift = text[:11] + "00:00" + text[16:], _dt.timedelta(days=1)
    try:
        t = _dt.datetime.fromisoformat(text) + shift
    except ValueError:
        raise PseResponseError(f"{at}: not a timestamp: {value!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
        return t if utc else t.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return t.replace(tzinfo=UTC) if utc else t


def _published(row: Mapping[str, Any]) -> _dt.datetime | None:
    for name, utc in (("publication_ts_utc", True), ("publication_ts", False)):
        value = row.get(name)
        if value is None:
            continue
        try:
            t = _naive(value, name, utc=utc)
        except PseResponseError:
            return None  # informative only: a bad publication time does not spoil the prices
        return t if utc else t.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    return None


def _infer_length(parsed: list[dict[str, Any]], where: str) -> int:
    """The period length of rows whose own length is unknown: the most common length of the
    other rows, else the smallest step between the rows' times."""
    known = Counter(p["length"] for p in parsed if p["length"])
    if known:
        return known.most_common(1)[0][0]
    times = sorted({p["end_utc"] or (p["local_end"] or p["local_start"]).replace(tzinfo=UTC) for p in parsed})
    steps = {int((b - a).total_seconds() // 60) for a, b in zip(times, times[1:])}
    if not steps:
        return 15
    step = min(steps)
    if step not in ALLOWED_LENGTHS:
        raise PseResponseError(f"{where}: cannot tell the period length: rows are {step} minutes apart")
    return step


def _start_utc(p: dict[str, Any], length: int, seen: dict[_dt.datetime, int], where: str) -> _dt.datetime:
    if p["end_utc"] is not None:
        start = p["end_utc"] - _dt.timedelta(minutes=length)
    elif p["local_start"] is not None:
        start = _local_to_utc(p["local_start"], seen, p["index"], where)
    else:  # the local END: to UTC first, so that a DST change inside the period is respected
        start = _local_to_utc(p["local_end"], seen, p["index"], where) - _dt.timedelta(minutes=length)
    if start.minute % 15 or start.second or start.microsecond:
        raise PseResponseError(f"{where}: row {p['index']}: period start {start.isoformat()} "
                               f"is not on a quarter-hour")
    return start


def _local_to_utc(local: _dt.datetime, seen: dict[_dt.datetime, int], index: int, where: str) -> _dt.datetime:
    """A naive local time as UTC; a time seen before is its second (winter-time) occurrence."""
    fold = seen.get(local, 0)
    seen[local] = fold + 1
    if fold > 1:
        raise IncompleteDayError(f"{where}: row {index}: local time {local:%Y-%m-%d %H:%M} appears more than twice")
    instant = local.replace(tzinfo=LOCAL_TZ, fold=fold).astimezone(UTC)
    if to_local(instant).replace(tzinfo=None) != local:
        raise PseResponseError(f"{where}: row {index}: local time {local:%Y-%m-%d %H:%M} does not exist (DST gap)")
    return instant


def _local_label(t: _dt.datetime) -> str:
    return to_local(t).strftime("%Y-%m-%d %H:%M %Z")
