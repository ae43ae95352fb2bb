"""Order-independent checksums of records, to compare a source with its target.

A record's digest is the first 8 bytes of BLAKE2b over the msgpack encoding (msgspec) of
its field values in ``FIELDS`` order, payload included, read as an unsigned 64-bit number
(digests are compared within a kind, so the kind is not part of it). The encoding is
canonical where a backend may change the form of a value but not the value:

* a JSON object's keys are sorted (a database may reorder them);
* ``-0.0`` is encoded as ``0.0`` (SQLite stores it so; so does TimescaleDB's ``jsonb``);
* a float of magnitude 1e16 or more is encoded as the integer it equals (``jsonb`` keeps
  numbers as decimals and writes those back as integers);

so equal records (as Python compares them) give equal digests whatever a backend returns,
except ``1`` against ``1.0`` inside a JSON field (no backend turns one into the other).
Digests are stable: the same records give the same digests and checksums in every run,
process and machine (Python's ``hash()`` is randomised per process; it is used for nothing
here). A value msgpack cannot encode (a key that is not text, an integer beyond 64 bits,
an object of another type) is digested through its ``repr`` in a canonical order instead,
more slowly. :func:`digests` digests a whole batch with C-level loops; :func:`combine`
turns a sum of digests into the hex checksum shown in the report.
"""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache
from operator import attrgetter
from typing import Any, Callable, Iterable

import msgspec

from gdpo.storage import Record, record_class

MASK64 = (1 << 64) - 1
DIGEST_BYTES = 8

_encode = msgspec.msgpack.Encoder(order="deterministic").encode
_astuple = msgspec.structs.astuple
_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes
_NEG_ZERO = b"\xcb\x80" + bytes(7)  # msgpack float64 -0.0
_ZERO = b"\xcb" + bytes(8)  # msgpack float64 0.0
# a msgpack float64 of magnitude 2**52 or more (its first byte holds the sign and the exponent's
# top bits): where a float of 1e16 or more may be (or bytes that merely look so: checked again)
_BIG_FLOAT = re.compile(b"\xcb[\x43-\x7f\xc3-\xff]")
_BIG = 1e16
_UNENCODABLE = (TypeError, ValueError, OverflowError, msgspec.EncodeError)


def _canonical(value: Any) -> Any:
    """A stand-in for a value msgpack refuses: objects as sorted item lists, anything
    unknown as its ``repr``, ``-0.0`` as ``0.0`` (the slow path of :func:`record_digest`)."""
    t = type(value)
    if t is dict:
        items = [(repr(k), _canonical(v)) for k, v in value.items()]
        return ["{}", *sorted(items, key=lambda kv: kv[0])]
    if t in (list, tuple):
        return [_canonical(v) for v in value]
    if t is float:
        return 0.0 if value == 0 else value
    if value is None or t in (str, bool, int):
        return value if t is not int or -(1 << 63) <= value < (1 << 64) else repr(value)
    return repr(value)


def _no_big_floats(value: Any) -> Any:
    """``value`` with every float of magnitude 1e16 or more (inside lists and objects too)
    as the integer it equals; anything else as it is."""
    t = type(value)
    if t is float:
        return int(value) if (value >= _BIG or value <= -_BIG) and not math.isinf(value) else value
    if t is dict:
        return {k: _no_big_floats(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [_no_big_floats(v) for v in value]
    return value


def _encoded(record: Record) -> bytes:
    """The canonical encoding of a record's values (see the module docstring)."""
    data = _encode(_astuple(record))
    if _BIG_FLOAT.search(data):
        data = _encode(_no_big_floats(_astuple(record)))
    return data


def _digest_of(data: bytes) -> int:
    if _NEG_ZERO in data:
        data = data.replace(_NEG_ZERO, _ZERO)
    return _from_bytes(_blake2b(data, digest_size=DIGEST_BYTES).digest(), "little")


def _slow_digest(record: Record) -> int:
    return _digest_of(_encode(_canonical(_no_big_floats(_astuple(record)))))


def record_digest(record: Record) -> int:
    """The stable 64-bit digest of one record (every field, payload included)."""
    try:
        data = _encoded(record)
    except _UNENCODABLE:
        return _slow_digest(record)
    return _digest_of(data)


def digests(records: Iterable[Record]) -> list[int]:
    """:func:`record_digest` of every record, in order (C-level loops in the common case)."""
    records = records if type(records) is list else list(records)
    try:
        encoded = list(map(_encode, map(_astuple, records)))
    except _UNENCODABLE:
        return [record_digest(r) for r in records]
    joined = b"".join(encoded)  # scanned once for the batch: few records hold such values
    if _BIG_FLOAT.search(joined):
        try:
            encoded = [_encoded(r) if _BIG_FLOAT.search(b) else b for r, b in zip(records, encoded)]
        except _UNENCODABLE:
            return [record_digest(r) for r in records]
    neg = _NEG_ZERO
    if neg in joined:
        encoded = [b.replace(neg, _ZERO) for b in encoded]
    blake2b, from_bytes = _blake2b, _from_bytes
    return [from_bytes(blake2b(b, digest_size=DIGEST_BYTES).digest(), "little") for b in encoded]


@lru_cache(maxsize=None)
def key_getter(kind: str) -> Callable[[Record], Any]:
    """A fast function giving a record's natural key (a value for one-field keys, else a tuple);
    the same kind always gets the same form, so its results compare with each other."""
    cls = record_class(kind)
    return attrgetter(*cls.SPEC.key)


def combine(digest_values: Iterable[int]) -> str:
    """The checksum of a set of records: the sum of their digests mod 2^64, as hex."""
    return f"{sum(digest_values) & MASK64:016x}"
