"""Value conversion between record fields and SQLite columns.

The one timestamp format of the database is INTEGER microseconds since the Unix epoch in
UTC: integers compare and sort correctly, index compactly, and convert faster than text.
Local calendar dates (``daily_stats.date``, ``price_forecasts.business_date``) are TEXT
``YYYY-MM-DD``; JSON fields are compact JSON text; booleans are 0/1.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Sequence

from gdpo.storage import StorageError, jsontext, records

UTC = records.UTC
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_fromisodate = _dt.date.fromisoformat
_timedelta = _dt.timedelta


# JSON text through gdpo.storage.jsontext (msgspec.json with a strict check). Measured on a 3-key
# payload: encode 0.79 -> 0.44 µs, decode 0.51 -> 0.19 µs; on a nested 40-value payload encode
# 3.84 -> 1.90 µs, decode 2.65 -> 0.82 µs (against the json module's C encoder and scanner;
# orjson not measured: not a dependency, and it too writes NaN as null).
_dumps = jsontext.dumps
_loads = jsontext.loads


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
    except (TypeError, ValueError, RecursionError) as exc:
        raise StorageError(f"{kind}.{field}: not JSON-serialisable: {exc}") from None


def text_to_json(value: str) -> Any:
    """JSON text back to a value (a fresh ``{}`` for the empty object).

    Reads the compact text this module writes and text written by hand with whitespace;
    damage raises ``json.JSONDecodeError`` as ``json.loads`` does."""
    if value == "{}":
        return {}
    return _loads(value)


def _row_parts(spec, convert: dict[str, str], guard_all: bool, names: list[str] | None = None) -> tuple[str, str]:
    """Python source of (the names a row unpacks into, the converted tuple built from them).

    Unpacking and naming every field is the fastest form in CPython (tuple subclasses
    take the slow path of ``r[i]``). Names and types come from the record specs, never
    from input.
    """
    names = names or [f"v{i}" for i in range(len(spec.fields))]
    parts: list[str] = []
    for v, f in zip(names, spec.fields):
        template = convert.get(f.type)
        if template is None:
            parts.append(v)
            continue
        call = template.format(v=v, kind=repr(spec.name), field=repr(f.name))
        if f.type == "json" and f.name == "payload":  # never NULL: records always carry a payload
            parts.append(f"({{}} if {v} == '{{}}' else {call})" if guard_all else f"('{{}}' if not {v} else {call})")
        elif guard_all or not f.required:
            parts.append(f"(None if {v} is None else {call})")
        else:
            parts.append(call)
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    return unpack, "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _function_source(name: str, spec, convert: dict[str, str], guard_all: bool, wrap: str = "{}",
                     values: str = "r") -> str:
    """Python source of ``name(r)``: unpack ``values`` (the row ``r``, or an expression giving the
    values of record ``r``) into locals, return the converted tuple (or ``wrap`` of it)."""
    unpack, result = _row_parts(spec, convert, guard_all)
    return f"def {name}(r):\n    {unpack} = {values}\n    return {wrap.format(result)}\n"


# datetime → µs, the hot spot of ingest. From 1970 to 2096 through the C float ``timestamp()``:
# there the seconds carry at most 0.24 µs of rounding error and the product at most 0.25 µs more,
# so rounding to the nearest integer gives the exact value (tests compare it with the integer
# path). Outside that span, exactly by timedelta arithmetic.
FAST_US_LIMIT = 4e15
_ENCODE = {"datetime": "(_int(_t + 0.5) if 0.0 <= (_t := {v}.timestamp() * 1e6) < _FAST_US_LIMIT else _us({v}))",
           "date": "{v}.isoformat()", "json": "_json({v}, {kind}, {field})", "bool": "int({v})"}
_DECODE = {"datetime": "_EPOCH + _td(0, 0, {v})", "date": "_date({v})", "json": "_json({v})", "bool": "bool({v})"}


# Generated code (the three exec() below) kept on measurement: benchmarks/codegen_bench.py shows the
# generated batch encoder 2.2x and the row decoder 2.0x closures over a per-field converter list
# (the 20 % rule of issue 19). They convert values only; no validation rule is re-implemented.


def _encode_namespace() -> dict[str, Any]:
    """The names the generated encoders use."""
    return {"_json": json_to_text, "_int": int, "_us": datetime_to_us, "_FAST_US_LIMIT": FAST_US_LIMIT,
            "_values": records.Record.as_tuple}


def make_row_encoder(kind: str) -> Callable[[records.Record], tuple]:
    """A function turning a record of ``kind`` into a tuple of column values (FIELDS order).

    Generated per kind so a row costs one tuple build and only the conversions it needs
    (writes use :func:`make_batch_encoder`, built from the same source).
    """
    spec = records.record_class(kind).SPEC
    namespace = _encode_namespace()
    exec(_function_source("encode", spec, _ENCODE, False, values="_values(r)"), namespace)  # noqa: S102  (source built from specs)
    return namespace["encode"]


def _batch_source(spec) -> str:
    """Python source of ``encode_batch(records, per)``: the rows of the records as (a list of
    flat parameter lists of ``per`` rows each, the rows left over as tuples), for the multi-row
    UPSERT and the one-row UPSERT. Each record's values are read in one expression and its
    row built as :func:`make_row_encoder` does, without a Python call per row; extending the
    flat list by each row's tuple measured as cheap as building the list of tuples alone
    (flattening afterwards cost 0.15-0.27 µs a row more)."""
    _, row = _row_parts(spec, _ENCODE, False, [f"r.{f.name}" for f in spec.fields])
    return (f"def encode_batch(records, per):\n"
            f"    out = []\n"
            f"    whole = len(records) - len(records) % per\n"
            f"    for i in range(0, whole, per):\n"
            f"        flat = []\n"
            f"        extend = flat.extend\n"
            f"        for r in records[i:i + per]:\n"
            f"            extend({row})\n"
            f"        out.append(flat)\n"
            f"    return out, [{row} for r in records[whole:]]\n")


def make_batch_encoder(kind: str) -> Callable[[Sequence[records.Record], int], tuple[list[list], list[tuple]]]:
    """A function ``encode_batch(records, per)`` turning a batch of records of ``kind`` into
    the parameters of the ingest path: a list of flat lists of ``per`` rows each (the values of
    :func:`make_row_encoder`, row after row) and the list of the rows left over."""
    spec = records.record_class(kind).SPEC
    namespace = _encode_namespace()
    exec(_batch_source(spec), namespace)  # noqa: S102  (source built from specs)
    return namespace["encode_batch"]


def make_row_decoder(kind: str) -> Callable[[tuple], records.Record]:
    """A function turning a row of column values (FIELDS order) into a record, without validation."""
    cls = records.record_class(kind)
    namespace = {"_EPOCH": EPOCH, "_td": _timedelta, "_date": _fromisodate, "_json": text_to_json,
                 "_build": cls.trusted_builder()}
    exec(_function_source("decode", cls.SPEC, _DECODE, True, "_build{}"), namespace)  # noqa: S102
    return namespace["decode"]


def bound_to_column(kind: str, value: Any) -> Any:
    """A range bound (datetime or date, already normalised) in the column format of the time axis."""
    if isinstance(value, _dt.datetime):
        return datetime_to_us(value)
    if isinstance(value, _dt.date):
        return date_to_text(value)
    raise StorageError(f"{kind}: a range bound must be a date or datetime, got {type(value).__name__}")
