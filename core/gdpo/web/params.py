"""Query parameters of the API and pages: time bounds, dates, field lists; errors name them."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Iterable, Mapping

from gdpo.storage.aggregate import local_midnight_utc, parse_every, zone
from gdpo.storage.errors import StorageError

UTC = _dt.timezone.utc
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ApiError(ValueError):
    """A bad request parameter: answered 400 with ``{"error", "parameter"}``."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter, self.message = parameter, message


class BackendDown(RuntimeError):
    """A storage backend that does not answer: answered 503 naming it."""

    def __init__(self, backend: str, detail: str):
        super().__init__(f"backend {backend} unavailable: {detail}")
        self.backend, self.detail = backend, detail


def parse_bound(value: str, name: str, tz: str) -> _dt.datetime:
    """A ``from``/``to`` value: a local date (its local midnight) or an ISO date-time (local
    time when it has no offset), as aware UTC."""
    text = value.strip()
    try:
        if _DATE.match(text):
            return local_midnight_utc(_dt.date.fromisoformat(text), tz)
        t = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+", 1) if "T" in text and " " in text
                                       else text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(name, f"{value!r} is neither a date (YYYY-MM-DD) nor an ISO date-time") from None
    return (t if t.tzinfo else t.replace(tzinfo=zone(tz))).astimezone(UTC)


def parse_range(query: Mapping[str, str], tz: str, default_days: float, now: _dt.datetime) -> tuple[_dt.datetime, _dt.datetime]:
    """(start, end) from ``from``/``to`` (end exclusive); defaults: the last ``default_days``
    up to now. ``from`` must be before ``to``."""
    end = parse_bound(query["to"], "to", tz) if query.get("to") else now
    start = parse_bound(query["from"], "from", tz) if query.get("from") else end - _dt.timedelta(days=default_days)
    if start >= end:
        raise ApiError("from", f"must be before to ({start.isoformat()} >= {end.isoformat()})")
    return start, end


def parse_date(value: str | None, name: str, default: _dt.date) -> _dt.date:
    """A ``YYYY-MM-DD`` parameter (``default`` when absent)."""
    if not value:
        return default
    try:
        return _dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(name, f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number parameter within [lo, hi]."""
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise ApiError(name, f"{value!r} is not a whole number") from None
    if not lo <= n <= hi:
        raise ApiError(name, f"{n} is outside {lo}..{hi}")
    return n


def parse_every_param(value: str | None) -> str | None:
    """``every``: a bucket width (``15m``, ``1h``, ``1d``, ``1mo``) or None for raw records."""
    if not value or value == "raw":
        return None
    try:
        parse_every(value)
    except StorageError as exc:
        raise ApiError("every", str(exc)) from None
    return value


def parse_fields(value: str | None, allowed: Iterable[str], default: Iterable[str]) -> list[str]:
    """``fields``: a comma list of numeric field names of the kind."""
    allowed = list(allowed)
    if not value:
        return list(default)
    names = [f.strip() for f in value.split(",") if f.strip()]
    bad = [f for f in names if f not in allowed]
    if bad or not names:
        raise ApiError("fields", f"unknown field(s) {', '.join(bad) or '(none)'}; use: {', '.join(allowed)}")
    return names


def parse_choice(value: str | None, name: str, choices: Iterable[str]) -> str | None:
    """An optional parameter that must be one of ``choices``."""
    choices = list(choices)
    if not value:
        return None
    if value not in choices:
        raise ApiError(name, f"{value!r}: use one of {', '.join(choices)}")
    return value
