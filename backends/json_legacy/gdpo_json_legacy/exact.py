"""The ``_gdpo`` envelope: an exact copy of a record inside a legacy-shaped JSON object.

When a record cannot be spelled losslessly in a legacy shape (a value the legacy format
has no place for, the second occurrence of an ambiguous local time without a preceding
first one, ...), the exporter still writes the legacy keys, so the old system's readers
accept the file, and adds ``"_gdpo": {"kind": ..., "record": {...}}``. The importer
prefers the envelope over the legacy keys.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

from gdpo.storage import Record, make_record

ENVELOPE_KEY = "_gdpo"


def to_json_value(value: Any) -> Any:
    """A record field as a JSON value (datetimes and dates as ISO strings)."""
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return value


def envelope(record: Record) -> dict[str, Any]:
    """The ``_gdpo`` envelope of ``record``."""
    return {"kind": record.KIND, "record": {k: to_json_value(v) for k, v in zip(record.FIELDS, record.as_tuple())}}


def from_envelope(env: Any) -> Record:
    """The record held in a ``_gdpo`` envelope (validated)."""
    if not isinstance(env, Mapping) or not isinstance(env.get("record"), Mapping) or "kind" not in env:
        raise ValueError("malformed _gdpo envelope (needs kind and record)")
    return make_record(env["kind"], env["record"])
