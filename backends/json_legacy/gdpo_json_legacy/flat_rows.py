"""Flat energy rows (composite-era / DAL shapes I and J): one row, or a whole day's array at once.

:func:`energy_from_flat_row` maps one row. :func:`energy_from_flat_rows` maps a list of rows
that all have the same keys (what every legacy writer produced: 1,440 rows a day) column by
column: each column is picked out, its ``"Unknown"`` turned into None and its GoodWe sign
turned in one pass, the timestamps converted together (:meth:`LocalClock.many_to_utc`), each
column validated by one ``msgspec.convert`` against its field's type (the constraints a
whole row's conversion applies to that field), and the records built from the checked
columns. Anything unusual in the list (rows with other keys, or two or more payload keys in
another order; an envelope or a ``payload`` key; a value of a type a signed column does not
hold, a value validation refuses, a timestamp in another spelling or on a DST night) makes
it return None, with the clock untouched, and the caller maps the rows one by one: the
records and every error are exactly those of :func:`energy_from_flat_row`
(``tests/migrate/test_migrate_fast_paths.py``).
"""

from __future__ import annotations

from itertools import repeat
from operator import itemgetter
from typing import Any

import msgspec

from gdpo.storage import EnergyData, StorageError

from gdpo_json_legacy.exact import ENVELOPE_KEY, from_envelope
from gdpo_json_legacy.localtime import LegacyTimeError, LocalClock

UNKNOWN = "Unknown"
PAYLOAD_KEY = "payload"
TIME_KEY = "timestamp"

# legacy flat-row key -> (column, GoodWe-signed?)
FLAT_ENERGY_KEYS: dict[str, tuple[str, bool]] = {
    "battery_soc": ("battery_soc_pct", False),
    "pv_power": ("pv_power_w", False),
    "grid_power": ("grid_power_w", True),
    "house_consumption": ("house_consumption_w", False),
    "battery_power": ("battery_power_w", True),
    "grid_voltage": ("grid_voltage_v", False),
    "battery_voltage": ("battery_voltage_v", False),
    "battery_current": ("battery_current_a", True),
    "battery_temperature": ("battery_temp_c", False),
    "price_pln": ("price_pln_kwh", False),
    # columns the composite-era rows lacked: written by gdpo export under their own names
    "grid_import_total_kwh": ("grid_import_total_kwh", False),
    "grid_export_total_kwh": ("grid_export_total_kwh", False),
    "pv_energy_today_kwh": ("pv_energy_today_kwh", False),
    "house_consumption_total_kwh": ("house_consumption_total_kwh", False),
    "tariff_zone": ("tariff_zone", False),
}
_FLAT_COLUMN_OF = FLAT_ENERGY_KEYS.get
_NUMBERS = frozenset([int, float, type(None)])
# each field's type as msgspec checks it: a column converted with it holds the values
# ``msgspec.convert`` of a whole row gives that field
_COLUMN_TYPES = {f.name: list[f.type] for f in msgspec.structs.fields(EnergyData)}
_REQUIRED = tuple(f.name for f in EnergyData.SPEC.fields if f.required)
_BUILD = EnergyData.trusted_builder()
_NONES = repeat(None)
_convert = msgspec.convert
_NOT_COLUMNAR = frozenset([ENVELOPE_KEY, PAYLOAD_KEY])
# what validating or converting a column may raise: the rows are then mapped one by one
_REFUSED = (StorageError, ValueError, TypeError, OverflowError, LegacyTimeError, KeyError, IndexError,
            msgspec.ValidationError)


def energy_from_flat_row(row: dict, clock: LocalClock) -> EnergyData:
    """One flat composite-era / DAL energy row (I, J): its columns renamed, ``"Unknown"`` ->
    None, GoodWe signs turned, every other key into payload; validated as ``EnergyData``
    (msgspec converts the common row in one C call)."""
    if ENVELOPE_KEY in row:
        return from_envelope(row[ENVELOPE_KEY])
    values: dict[str, Any] = {"ts": clock.to_utc(row.get(TIME_KEY), "energy_data")}
    payload: dict[str, Any] = {}
    column_of = _FLAT_COLUMN_OF
    for key, value in row.items():
        spec = column_of(key)
        if spec is not None:  # col() and neg() inlined: this loop runs for every legacy energy row
            if value == UNKNOWN:
                value = None
            elif spec[1] and value and type(value) in (int, float):
                value = -value
            values[spec[0]] = value
        elif key == PAYLOAD_KEY and isinstance(value, dict):
            payload.update(value)
        elif key != TIME_KEY:
            payload[key] = value
    values["payload"] = payload
    return EnergyData.validate(values)


def _column(values: tuple, signed: bool) -> list | tuple:
    if UNKNOWN in values:
        values = [None if v == UNKNOWN else v for v in values]
    if signed:
        if not set(map(type, values)) <= _NUMBERS:
            raise TypeError("a signed column holds something other than numbers")
        values = [-v if v else v for v in values]
    return values


def _payloads(extra: list[str], extra_columns: list[tuple], count: int) -> list[dict]:
    if not extra:
        return [{} for _ in range(count)]
    if len(extra) == 1:
        key = extra[0]
        return [{key: v} for v in extra_columns[0]]
    return list(map(dict, map(zip, repeat(extra), zip(*extra_columns))))


def energy_from_flat_rows(rows: list, clock: LocalClock) -> list[EnergyData] | None:
    """The records of ``rows`` mapped column by column, or None when the list is not the
    common shape (see the module docstring: map the rows one by one then)."""
    if not rows or type(rows[0]) is not dict:
        return None
    keys = tuple(rows[0])
    if len(keys) < 2 or TIME_KEY not in keys or not _NOT_COLUMNAR.isdisjoint(keys):
        return None
    try:
        # as many keys in every row, and every row has each key of the first (or KeyError):
        # the same keys; their order matters only for the order of two or more payload keys
        if set(map(len, rows)) != {len(keys)}:
            return None
        by_key = dict(zip(keys, zip(*map(itemgetter(*keys), rows))))
        columns: dict[str, Any] = {}
        extra = []
        for key, values in by_key.items():
            spec = _FLAT_COLUMN_OF(key)
            if spec is not None:
                columns[spec[0]] = _convert(_column(values, spec[1]), _COLUMN_TYPES[spec[0]])
            elif key != TIME_KEY:
                extra.append(key)
        if len(extra) > 1 and not all(map(keys.__eq__, map(tuple, rows))):
            return None
        times = clock.many_to_utc(by_key[TIME_KEY], "energy_data")
        if times is None:
            return None
        columns["ts"] = times  # aware UTC datetimes already
        columns[PAYLOAD_KEY] = _payloads(extra, [by_key[k] for k in extra], len(rows))
        if any(columns.get(name) is None or None in columns[name] for name in _REQUIRED):
            return None
        return list(map(_BUILD, *(columns.get(name, _NONES) for name in EnergyData.FIELDS)))
    except _REFUSED:
        return None
