"""Legacy timestamps: the three spellings, Europe/Warsaw wall-clock time, and the DST night.

Legacy files hold ``isoformat()`` (``T``), ``str(datetime)`` (a space) and, rarely, aware
``+01:00``/``+02:00`` values. A naive value is Warsaw wall-clock time. On the autumn night an
ambiguous local time (02:00-02:59) is the first occurrence (+02:00), except in an
append-ordered NDJSON file whose lines show the clock going back: from that line on, the
ambiguous times are the second occurrence (+01:00). :class:`LocalClock` applies the rule and
counts every ambiguous record for the report.
"""

from __future__ import annotations

import datetime as _dt
from itertools import repeat
from operator import itemgetter
from zoneinfo import ZoneInfo

from gdpo.storage import UTC

WARSAW = ZoneInfo("Europe/Warsaw")
_FROMISO = _dt.datetime.fromisoformat


class LegacyTimeError(ValueError):
    """A value that is not a legacy timestamp."""


def is_ambiguous(local: _dt.datetime) -> bool:
    """True when the naive Warsaw time ``local`` happens twice (the autumn DST hour)."""
    return _hour_info(local)[2]


def parse_naive_or_aware(value) -> _dt.datetime:
    """Parse any of the three legacy spellings; the result may be naive (local) or aware."""
    if type(value) is not str:
        raise LegacyTimeError(f"expected a timestamp string, got {type(value).__name__} {value!r}")
    try:
        return _FROMISO(value)
    except ValueError:
        raise LegacyTimeError(f"not a timestamp: {value!r}") from None


_HOUR_OFFSETS: dict[tuple, tuple] = {}
_UTC_HOUR_OFFSETS: dict[int, _dt.timedelta] = {}
# "YYYY-MM-DDTHH" (or with a space) -> UTC offset, for local hours that happen exactly once
_ORDINARY_HOURS: dict[str, _dt.timedelta] = {}
# each cache holds one entry per hour seen; emptied when it reaches this size (about 2 years of
# hours), so that a tree of many years does not grow memory without bound
MAX_CACHED_HOURS = 20_000


def _remember(cache: dict, key, value):
    """Store ``value`` under ``key`` in a bounded cache; return ``value``."""
    if len(cache) >= MAX_CACHED_HOURS:
        cache.clear()
    cache[key] = value
    return value


_NAIVE_LENGTHS = (19, 26)  # "YYYY-MM-DDTHH:MM:SS" and with ".ffffff"
_NAIVE_LENGTH_SET = frozenset(_NAIVE_LENGTHS)
_SEPARATORS = frozenset("T ")
_SEPARATOR_AT = itemgetter(10)
_HOUR_PREFIX = itemgetter(slice(0, 13))


def _hour_key(value) -> str | None:
    """``"YYYY-MM-DDTHH"`` of a timestamp string in the plain naive spelling, else None."""
    if type(value) is str and len(value) in _NAIVE_LENGTHS and value[10] in "T ":
        return value[:13]
    return None


def _learn_hour(hour_key: str) -> None:
    """Cache the offset of the local hour ``"YYYY-MM-DDTHH"`` when it happens exactly once."""
    try:
        local = _FROMISO(hour_key + ":00:00")
    except ValueError:
        return  # not an hour: the value is converted (and refused) one by one
    first_off, second_off, _ = _hour_info(local)
    if first_off == second_off:
        _remember(_ORDINARY_HOURS, hour_key, first_off)


def _hour_info(local: _dt.datetime) -> tuple:
    """(offset of the first occurrence, offset of the second, ambiguous?) of a local hour, cached."""
    key = (local.year, local.month, local.day, local.hour)
    info = _HOUR_OFFSETS.get(key)
    if info is None:
        a = local.replace(tzinfo=WARSAW, fold=0).utcoffset()
        b = local.replace(tzinfo=WARSAW, fold=1).utcoffset()
        info = _remember(_HOUR_OFFSETS, key, (a, b, a > b))
    return info


def local_to_utc(local: _dt.datetime, second: bool = False) -> _dt.datetime:
    """A naive Warsaw time as aware UTC (``second`` picks the second of two occurrences)."""
    first_off, second_off, ambiguous = _hour_info(local)
    if not ambiguous and first_off != second_off:  # the spring gap: let zoneinfo decide
        return local.replace(tzinfo=WARSAW, fold=1 if second else 0).astimezone(UTC)
    return (local - (second_off if second else first_off)).replace(tzinfo=UTC)


def utc_to_local_naive(ts: _dt.datetime) -> _dt.datetime:
    """An aware datetime as naive Warsaw wall-clock time (what legacy writers produced)."""
    hour = int(ts.timestamp() // 3600)
    offset = _UTC_HOUR_OFFSETS.get(hour)
    if offset is None:
        offset = _remember(_UTC_HOUR_OFFSETS, hour, ts.astimezone(WARSAW).utcoffset())
    return (ts + offset).replace(tzinfo=None)


def local_iso(ts: _dt.datetime, sep: str = "T") -> str:
    """``ts`` as the legacy writers spelled it: naive local ``isoformat`` (or ``str``)."""
    return utc_to_local_naive(ts).isoformat(sep)


class LocalClock:
    """Converts legacy timestamps of one file to UTC, applying the DST-night rule.

    ``ordered=True`` is for append-ordered NDJSON files: once a line's ambiguous local time
    is earlier than an ambiguous time of a previous line, it and the following ambiguous
    times are the second occurrence. ``counts`` collects ambiguous records by kind.
    """

    __slots__ = ("ordered", "_last_ambiguous", "_second", "ambiguous")

    def __init__(self, ordered: bool = False):
        self.ordered = ordered
        self._last_ambiguous: _dt.datetime | None = None
        self._second = False
        self.ambiguous: list[tuple[str, bool]] = []  # (kind, second occurrence?) per record

    def to_utc(self, value, kind: str = "", *, track: bool = True, second: bool | None = None) -> _dt.datetime:
        """Parse ``value`` as aware UTC. ``track``: it is a line's own time (it moves the file
        order); ``kind``: an ambiguous value is counted for that record kind."""
        hour_key = _hour_key(value)
        offset = _ORDINARY_HOURS.get(hour_key)
        if offset is not None:  # the common case: an hour seen before, not the DST night
            try:  # parsed as UTC then shifted: cheaper than datetime.replace(tzinfo=...)
                return _FROMISO(value + "+00:00") - offset
            except ValueError:
                pass  # parse_naive_or_aware below names the bad value
        dt = parse_naive_or_aware(value)
        if dt.tzinfo is not None:
            return dt.astimezone(UTC)
        first_off, second_off, ambiguous = _hour_info(dt)
        if first_off == second_off:  # an ordinary hour (neither the autumn fold nor the spring gap)
            if hour_key is not None:
                _remember(_ORDINARY_HOURS, hour_key, first_off)
            return (dt - first_off).replace(tzinfo=UTC)
        if second is None:
            second = self.occurrence(dt, track)
        if kind and is_ambiguous(dt):
            self.ambiguous.append((kind, second))
        return local_to_utc(dt, second)

    def many_to_utc(self, values, kind: str = "") -> list[_dt.datetime] | None:
        """:meth:`to_utc` of every value in one pass, when every value is in the plain naive
        spelling and in an hour that happens exactly once (no DST night, nothing to count);
        otherwise None, and nothing about the clock has changed (convert them one by one)."""
        try:
            if not (set(map(len, values)) <= _NAIVE_LENGTH_SET and set(map(_SEPARATOR_AT, values)) <= _SEPARATORS):
                return None
            ordinary = _ORDINARY_HOURS
            hour_keys = set(map(_HOUR_PREFIX, values))
            for hour_key in hour_keys - ordinary.keys():
                _learn_hour(hour_key)
            offsets = {ordinary[k] for k in hour_keys}
            # parsed as UTC then shifted: cheaper than datetime.replace(tzinfo=...)
            shifted = list(map(_FROMISO, map(str.__add__, values, repeat("+00:00"))))
            if len(offsets) == 1:  # one offset for the whole list (every day but the two DST days)
                return list(map(_dt.datetime.__sub__, shifted, repeat(offsets.pop())))
            return [t - ordinary[v[:13]] for t, v in zip(shifted, values)]
        except (TypeError, KeyError, ValueError, IndexError):
            return None

    def occurrence(self, local: _dt.datetime, track: bool = True) -> bool:
        """Whether naive ``local`` is the second occurrence under this file's order."""
        if not self.ordered or not is_ambiguous(local):
            return False
        if not track:
            return self._second
        last = self._last_ambiguous
        if last is not None and last.date() != local.date():
            last, self._second = None, False
        if last is not None and local < last:
            self._second = True
        if last is None or local > last:
            self._last_ambiguous = local
        return self._second

    @property
    def in_second_occurrence(self) -> bool:
        """True once this ordered file has shown the clock going back."""
        return self._second
