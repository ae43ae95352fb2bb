"""Polish public holidays (days free from work by statute), for tariff zones.

The list: 1 January, 6 January (Epiphany, since 2011), Easter Sunday and Easter Monday,
1 May, 3 May, Pentecost Sunday, Corpus Christi (Easter + 60 days), 15 August, 1 November,
11 November, 24 December (since 2025), 25 and 26 December.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from typing import Iterable

CHRISTMAS_EVE_FROM_YEAR = 2025
EPIPHANY_FROM_YEAR = 2011


def easter_sunday(year: int) -> _dt.date:
    """Western (Gregorian) Easter Sunday of ``year`` (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return _dt.date(year, month, day + 1)


@lru_cache(maxsize=64)
def polish_holidays(year: int) -> dict[_dt.date, str]:
    """Every Polish public holiday of ``year``: {date: name}."""
    easter = easter_sunday(year)
    days = {
        _dt.date(year, 1, 1): "New Year's Day",
        easter: "Easter Sunday",
        easter + _dt.timedelta(days=1): "Easter Monday",
        _dt.date(year, 5, 1): "Labour Day",
        _dt.date(year, 5, 3): "Constitution Day",
        easter + _dt.timedelta(days=49): "Pentecost Sunday",
        easter + _dt.timedelta(days=60): "Corpus Christi",
        _dt.date(year, 8, 15): "Assumption Day",
        _dt.date(year, 11, 1): "All Saints' Day",
        _dt.date(year, 11, 11): "Independence Day",
        _dt.date(year, 12, 25): "Christmas Day",
        _dt.date(year, 12, 26): "Second Day of Christmas",
    }
    if year >= EPIPHANY_FROM_YEAR:
        days[_dt.date(year, 1, 6)] = "Epiphany"
    if year >= CHRISTMAS_EVE_FROM_YEAR:
        days[_dt.date(year, 12, 24)] = "Christmas Eve"
    return dict(sorted(days.items()))


def is_public_holiday(day: _dt.date, extra: Iterable[_dt.date] = ()) -> bool:
    """True if ``day`` is a Polish public holiday (or one of the ``extra`` dates)."""
    return day in polish_holidays(day.year) or day in extra


def is_free_day(day: _dt.date, extra: Iterable[_dt.date] = ()) -> bool:
    """True on Saturdays, Sundays and public holidays: the days weekend tariff rules apply to."""
    return day.weekday() >= 5 or is_public_holiday(day, extra)
