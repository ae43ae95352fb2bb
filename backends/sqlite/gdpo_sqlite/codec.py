"""Value conversion between record fields and SQLite columns.

The one timestamp format of the database is INTEGER microseconds since the Unix epoch in
UTC: integers compare and sort correctly, index compactly, and convert faster than text.
Local calendar dates (``daily_stats.date``, ``price_forecasts.business_date``) are TEXT
``YYYY-MM-DD``; JSON fields are compact JSON text; booleans are 0/1.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Callable

from gdpo.storage import StorageError, records

UTC = records.UTC
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = _dt.timedelta(microseconds=1)
_fromisodate = _dt.date.fromisoformat
_timedelta = _dt.timedelta
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_loads = json.loads


def datetime_to_us(value: _dt.datetime) -> int:
    """An aware datetime as integer microseconds since the epoch (UTC)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def us_to_datetime(value: int) -> _dt.datetime:
    """Integer epoch microseconds as an aware UTC datetime."""
    return EPOCH + _timedelta(microseconds=value)


def date_to_text(value: _dt.date) -> str:
    """A date as ``YYYY-MM-DD``."""
    return value.isoformat()


def json_to_text(value: Any, kind: str = "", field: str = "payload") -> str:
    """A JSON field as compact text; a value that is not JSON raises a StorageError naming the field."""
    if not value:
        return "{}" if isinstance(value, dict) else _dumps(value)
    try:
        return _dumps(value)
    except (TypeError, ValueError) as exc:
        raise StorageError(f"{kind}.{field}: not JSON-serialisable: {exc}") from None


def text_to_json(value: str) -> Any:
    """JSON text back to a value (a fresh ``{}`` for the empty object)."""
    return {} if value == "{}" else _loads(value)


_TO_COLUMN: dict[str, Callable[..., Any] | None] = {
    "datetime": datetime_to_us, "date": date_to_text, "json": json_to_text, "bool": int,
    "float": None, "int": None, "str": None,
}
_FROM_COLUMN: dict[str, Callable[[Any], Any] | None] = {
    "datetime": us_to_datetime, "date": _fromisodate, "json": text_to_json, "bool": bool,
    "float": None, "int": None, "str": None,
}


def make_row_encoder(kind: str) -> Callable[[records.Record], tuple]:
    """A function turning a record of ``kind`` into a tuple of column values (FIELDS order)."""
    spec = records.record_class(kind).SPEC
    steps = [(i, f.type, _TO_COLUMN[f.type]) for i, f in enumerate(spec.fields) if _TO_COLUMN[f.type]]
    plain = [(i, conv) for i, t, conv in steps if t != "json"]
    jsons = [(i, f.name) for i, f in enumerate(spec.fields) if f.type == "json"]

    def encode(record: records.Record) -> tuple:
        values = list(record)
        for i, conv in plain:
            v = values[i]
            if v is not None:
                values[i] = conv(v)
        for i, name in jsons:
            v = values[i]
            if v is not None:
                values[i] = json_to_text(v, kind, name)
        return tuple(values)

    return encode


def make_row_decoder(kind: str) -> Callable[[tuple], records.Record]:
    """A function turning a row of column values (FIELDS order) into a record, without validation."""
    cls = records.record_class(kind)
    steps = [(i, _FROM_COLUMN[f.type]) for i, f in enumerate(cls.SPEC.fields) if _FROM_COLUMN[f.type]]
    trusted = cls._trusted

    def decode(row: tuple) -> records.Record:
        values = list(row)
        for i, conv in steps:
            v = values[i]
            if v is not None:
                values[i] = conv(v)
        return trusted(values)

    return decode


def bound_to_column(kind: str, value: Any) -> Any:
    """A range bound (datetime or date, already normalised) in the column format of the time axis."""
    if isinstance(value, _dt.datetime):
        return datetime_to_us(value)
    if isinstance(value, _dt.date):
        return date_to_text(value)
    raise StorageError(f"{kind}: a range bound must be a date or datetime, got {type(value).__name__}")
