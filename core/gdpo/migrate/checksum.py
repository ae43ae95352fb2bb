"""Order-independent checksums of normalised records, to compare a source with its target.

A record's digest hashes its column values (aware datetimes hash by their instant, and
``0.0 == -0.0 == 0`` hash alike, so equal values give equal digests whatever a backend
returns) and its JSON fields serialised with sorted keys (a database may reorder them).
Digests use Python's hash and are only compared inside one run.
"""

from __future__ import annotations

import json
from functools import lru_cache

from gdpo.storage import Record, record_class

MASK64 = (1 << 64) - 1
_dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


@lru_cache(maxsize=None)
def _json_positions(kind: str) -> tuple[int, ...]:
    spec = record_class(kind).SPEC
    return tuple(i for i, f in enumerate(spec.fields) if f.type == "json")


def record_digest(record: Record) -> int:
    """A 64-bit digest of the normalised record (every field, payload included)."""
    positions = _json_positions(record.KIND)
    if len(positions) == 1 and positions[0] == len(record) - 1:
        return hash((record[:-1], _dumps(record[-1]))) & MASK64
    values = list(record)
    for i in positions:
        values[i] = None if values[i] is None else _dumps(values[i])
    return hash(tuple(values)) & MASK64


def combine(digests) -> str:
    """The checksum of a set of records: the sum of their digests mod 2^64, as hex."""
    return f"{sum(digests) & MASK64:016x}"
