"""Order-independent checksums of normalised records, to compare a source with its target."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any

from gdpo.storage import Record

MASK64 = (1 << 64) - 1


def _norm(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.timezone.utc).isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if type(value) is float:
        return 0.0 if value == 0 else value
    return value


def record_digest(record: Record) -> int:
    """A 64-bit digest of the normalised record (every field, payload included)."""
    values = [_norm(v) for v in record]
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def combine(digests) -> str:
    """The checksum of a set of records: the sum of their digests mod 2^64, as hex."""
    total = 0
    for d in digests:
        total = (total + d) & MASK64
    return f"{total:016x}"
