"""Order-independent checksums of normalised records, to compare a source with its target.

A record's digest hashes its column values (aware datetimes hash by their instant, and
``0.0 == -0.0 == 0`` hash alike, so equal values give equal digests whatever a backend
returns) and its JSON fields as frozen structures: an object becomes a frozenset of its
items (a database may reorder keys), an array a tuple, recursively. Two records have the
same digest when they compare equal field by field, the same rule by which a record
already in the target counts as ``already_present``. Digests use Python's hash and are
only compared inside one run.
"""

from __future__ import annotations

from functools import lru_cache
from operator import attrgetter
from typing import Any, Callable

from gdpo.storage import Record, record_class

MASK64 = (1 << 64) - 1


@lru_cache(maxsize=None)
def _json_positions(kind: str) -> tuple[int, ...]:
    spec = record_class(kind).SPEC
    return tuple(i for i, f in enumerate(spec.fields) if f.type == "json")


def frozen(value: Any) -> Any:
    """A hashable stand-in for a JSON value that ignores key order (equal values, equal results)."""
    t = type(value)
    if t is dict:
        try:
            return frozenset(value.items())  # flat objects: one C call
        except TypeError:
            return frozenset([(k, frozen(v)) for k, v in value.items()])
    if t is list:
        return ("[]",) + tuple([frozen(v) for v in value])
    return value


def record_digest(record: Record) -> int:
    """A 64-bit digest of the normalised record (every field, payload included)."""
    positions = _json_positions(record.KIND)
    row = record.as_tuple()
    if len(positions) == 1 and positions[0] == len(row) - 1:
        return hash((row[:-1], frozen(row[-1]))) & MASK64
    values = list(row)
    for i in positions:
        values[i] = frozen(values[i])
    return hash(tuple(values)) & MASK64


@lru_cache(maxsize=None)
def key_getter(kind: str) -> Callable[[Record], Any]:
    """A fast function giving a record's natural key (a value for one-field keys, else a tuple);
    the same kind always gets the same form, so its results compare with each other."""
    cls = record_class(kind)
    return attrgetter(*cls.SPEC.key)


def combine(digests) -> str:
    """The checksum of a set of records: the sum of their digests mod 2^64, as hex."""
    return f"{sum(digests) & MASK64:016x}"
