"""Helpers of the migration tests (reading a whole storage, manifest comparisons)."""

from __future__ import annotations

import datetime as _dt
import math

from gdpo.storage import KIND_NAMES, open_storage

FAR_PAST = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
FAR_FUTURE = _dt.datetime(2200, 1, 1, tzinfo=_dt.timezone.utc)


async def read_everything(spec: str) -> dict[str, list]:
    """Every record of every kind in the storage named by ``spec``."""
    from gdpo.migrate.specs import parse_spec

    out = {}
    async with open_storage(parse_spec(spec).config) as s:
        for kind in KIND_NAMES:
            lo, hi = (_dt.date(1970, 1, 1), _dt.date(2200, 1, 1)) if kind == "daily_stats" else (FAR_PAST, FAR_FUTURE)
            out[kind] = await s.read(kind, lo, hi)
    return out


def field_value(record, path: str):
    """``payload.a.b`` -> record.payload['a']['b']; other names are fields."""
    if path.startswith("payload."):
        value = record.payload
        for part in path.split(".")[1:]:
            value = value[part]
        return value
    return getattr(record, path)


def values_equal(got, want) -> bool:
    """Manifest comparison: timestamps as datetimes, numbers within 1e-6, null is None."""
    if want is None:
        return got is None
    if isinstance(got, _dt.datetime) and isinstance(want, str):
        return got == _dt.datetime.fromisoformat(want)
    if isinstance(got, _dt.date) and isinstance(want, str):
        return got == _dt.date.fromisoformat(want)
    if isinstance(want, bool) or isinstance(got, bool):
        return got is want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(got, want, abs_tol=1e-6, rel_tol=0)
    return got == want


async def clear_storage(spec_config) -> None:
    """Delete every record of a (TimescaleDB) test database before a test uses it."""
    async with open_storage(spec_config) as s:
        for kind in KIND_NAMES:
            far = _dt.date(2200, 1, 1) if kind == "daily_stats" else FAR_FUTURE
            await s.delete_older_than(kind, far)
