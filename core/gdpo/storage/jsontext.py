"""Strict compact JSON on msgspec, for the storage layer's JSON text (columns, spool, quarantine).

msgspec.json writes compact UTF-8 without ASCII escaping and reads JSON with or without
whitespace, several times faster than the ``json`` module. It is also lenient where the
storage layer must not be: it writes NaN and infinity as ``null`` and sets, bytes, dates and
decimals as JSON values of another type. :func:`dumps` therefore reads its text back and
compares; a value that does not come back equal goes to ``json.dumps`` (the former encoder),
which spells tuples and int keys as before and raises its usual error for NaN, infinity or a
value that is not JSON. :func:`loads` hands what msgspec refuses (damage; ``NaN`` or
out-of-range numbers written by hand) to ``json.loads``, which parses it or raises
``json.JSONDecodeError`` as before.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

encode = msgspec.json.Encoder().encode  # lenient: only for values known to be JSON (datetimes as ISO text)
decode = msgspec.json.Decoder().decode
_ENCODE_ERRORS = (msgspec.MsgspecError, TypeError, ValueError, OverflowError, RecursionError)


def dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON of ``value``, exactly what it holds; TypeError/ValueError/RecursionError
    (as ``json.dumps``) when it is not JSON or holds NaN or infinity."""
    try:
        data = encode(value)
        if decode(data) == value:
            return data
    except _ENCODE_ERRORS:
        pass
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def dumps(value: Any) -> str:
    """:func:`dumps_bytes` as text."""
    return dumps_bytes(value).decode("utf-8")


def loads(data: bytes | str) -> Any:
    """A JSON document (bytes or text) as Python values; ``json.JSONDecodeError`` for bad JSON."""
    try:
        return decode(data)
    except msgspec.MsgspecError:
        return json.loads(data)


__all__ = ["decode", "dumps", "dumps_bytes", "encode", "loads"]
