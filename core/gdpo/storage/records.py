"""The eight record kinds: typed, immutable, validated records with natural keys.

Each kind is a frozen ``msgspec.Struct`` whose fields are listed in ``FIELDS`` order, with
its types and limits as msgspec constraints. Building one through the class
(``EnergyData(ts=..., pv_power_w=...)``), :meth:`Record.validate` or :func:`make_record`
validates every value (``msgspec.convert``, with the generic rules of this module for what it
refuses, so every error names kind, field and value); :func:`json_decoder` decodes JSON
straight into records. Backends rebuild trusted rows with ``Kind.from_trusted(values)``,
which skips validation, hand values to a driver with ``record.as_tuple()`` and find a field's
position with ``Kind.INDEX[name]`` (the public API a backend needs; everything starting with
``_`` is this module's own).

Public behaviour (``tests/storage/test_records_msgspec.py``): attribute access by field name;
``kind``-wide ``KIND``, ``SPEC``, ``FIELDS``, ``INDEX``; ``key`` and ``time``; ``replace``
returns a validated copy; equality and ordering by kind and field values (as tuples
compare); records are unhashable (their payload is a dict); they pickle (``from_trusted``
rebuilds them) and are immutable.

Rules every kind follows:

* timestamps are timezone-aware and normalised to UTC; a naive datetime is rejected;
* a field name carries its unit (``_w``, ``_kwh``, ``_pct``, ``_pln`` ...);
* ``grid_power_w`` > 0 means import from the grid, ``battery_power_w`` > 0 means charging;
* keys that have no column go into ``payload`` and are never dropped;
* every kind has a natural key, so writing the same record twice stores it once.
"""

from __future__ import annotations

import datetime as _dt
import math
from functools import partial
from itertools import starmap
from operator import attrgetter
from types import MappingProxyType
from typing import Annotated, Any, Callable, ClassVar, Iterable, Literal, Mapping, Optional, Sequence

import msgspec
from msgspec import Meta

from gdpo.storage.errors import RecordValidationError, UnknownKindError
from gdpo.storage.kinds import (  # noqa: F401  (the contract, re-exported)
    KIND_NAMES, KINDS, LOCAL_TZ_NAME, SESSION_STATUSES, SYSTEM_STATES, UTC, Field, KindSpec,
)


# --------------------------------------------------------------------------- conversion


def parse_datetime(value: Any, *, kind: str = "", field: str = "") -> _dt.datetime:
    """Return ``value`` as an aware UTC datetime; accept aware datetimes and ISO strings.

    A naive datetime or an ISO string without an offset is rejected: gdpo never guesses
    the timezone of a stored timestamp.
    """
    if type(value) is str:
        value = _parse_iso(value, kind, field)
    if not isinstance(value, _dt.datetime):
        raise RecordValidationError(kind, field, f"expected a timezone-aware datetime, got {type(value).__name__}")
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None or tz.utcoffset(value) is None:
        raise RecordValidationError(kind, field, f"naive datetime {value.isoformat()} (timezone required)")
    return value.astimezone(UTC)


def _parse_iso(text: str, kind: str, field: str) -> _dt.datetime:
    """An ISO-8601 timestamp: RFC 3339 as msgspec parses it (so a record gets the same value
    whichever path validates it; sub-microsecond digits round), any other ISO form Python reads."""
    try:
        return _str_to_datetime(text, _dt.datetime)
    except msgspec.ValidationError:
        pass
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        raise RecordValidationError(kind, field, f"not an ISO-8601 timestamp: {text!r}") from None


_str_to_datetime = msgspec.convert


def parse_date(value: Any, *, kind: str = "", field: str = "") -> _dt.date:
    """Return ``value`` as a ``date``; accept dates and 'YYYY-MM-DD' strings (not datetimes)."""
    if type(value) is _dt.date:
        return value
    if type(value) is str:
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            raise RecordValidationError(kind, field, f"not a YYYY-MM-DD date: {value!r}") from None
    raise RecordValidationError(kind, field, f"expected a date, got {type(value).__name__}")


def _limits(f: Field) -> str:
    """The allowed range of a field, as ``min..max`` (either side may be open)."""
    return f"{'' if f.min is None else f'{f.min:g}'}..{'' if f.max is None else f'{f.max:g}'}"


def _float(value, kind, f: Field):
    t = type(value)
    if t is float:
        if value != value or value in (math.inf, -math.inf):
            raise RecordValidationError(kind, f.name, f"not a finite number: {value!r}")
    elif t is int or (isinstance(value, int) and t is not bool):  # an int subclass (IntEnum): its number
        try:
            value = float(value)
        except OverflowError:
            raise RecordValidationError(kind, f.name, "a whole number of more than 300 digits is too large for a number field") from None
    else:
        raise RecordValidationError(kind, f.name, f"expected a number, got {t.__name__} {value!r}")
    if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
        raise RecordValidationError(kind, f.name, f"{value!r} is outside {_limits(f)}")
    return value


def _int(value, kind, f: Field):
    if type(value) is not int:
        if isinstance(value, int) and type(value) is not bool:  # an int subclass (IntEnum): its number
            value = int(value)
        elif type(value) is float and value.is_integer():
            value = int(value)
        else:
            raise RecordValidationError(kind, f.name, f"expected a whole number, got {type(value).__name__} {value!r}")
    if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
        raise RecordValidationError(kind, f.name, f"{value!r} is outside {_limits(f)}")
    return value


def _str(value, kind, f: Field):
    if type(value) is not str:
        if isinstance(value, str):  # a str subclass (an enum member ...) is text; a choice is kept as
            return _str(str.__str__(value), kind, f) if f.choices is not None else value  # its plain text
        raise RecordValidationError(kind, f.name, f"expected text, got {type(value).__name__} {value!r}")
    if f.choices is not None and value not in f.choices:
        raise RecordValidationError(kind, f.name, f"{value!r} is not one of {', '.join(f.choices)}")
    return value


def _bool(value, kind, f: Field):
    if type(value) is not bool:
        raise RecordValidationError(kind, f.name, f"expected true or false, got {value!r}")
    return value


def _json(value, kind, f: Field):
    if type(value) is dict:
        return value
    if not isinstance(value, dict):
        raise RecordValidationError(kind, f.name, f"expected a JSON object, got {type(value).__name__}")
    return dict(value)  # a dict subclass (OrderedDict ...) as a plain dict, as msgspec converts it


_CONVERTERS: dict[str, Callable[[Any, str, Field], Any]] = {
    "datetime": lambda v, k, f: parse_datetime(v, kind=k, field=f.name),
    "date": lambda v, k, f: parse_date(v, kind=k, field=f.name),
    "float": _float,
    "int": _int,
    "str": _str,
    "bool": _bool,
    "json": _json,
}

# --------------------------------------------------------------------------- record classes

_FLOAT_MAX = 1.7976931348623157e308  # bounds on every float field: msgspec rejects NaN and inf against them


def _struct_type(f: Field) -> Any:
    """The msgspec type of a field: what ``msgspec.convert`` accepts without help.

    Every field is ``None``-able at this level (its default is ``None``) so the fields keep
    their ``FIELDS`` order positionally; a required field is enforced before conversion
    (``Record.validate``), and ``None`` in it sends the mapping to the generic rules.
    """
    if f.type == "float":
        lo = -_FLOAT_MAX if f.min is None else float(f.min)
        hi = _FLOAT_MAX if f.max is None else float(f.max)
        base: Any = Annotated[float, Meta(ge=lo, le=hi)]
    elif f.type == "int":
        base = Annotated[int, Meta(ge=f.min, le=f.max)] if f.min is not None or f.max is not None else int
    elif f.type == "str":
        base = Literal[f.choices] if f.choices else str  # type: ignore[valid-type]
    elif f.type == "datetime":
        base = Annotated[_dt.datetime, Meta(tz=True)]
    elif f.type == "date":
        base = _dt.date
    elif f.type == "bool":
        base = bool
    else:  # json
        base = dict
    if f.name == "payload":
        return base  # never None: an absent payload is {}
    return base if f.required else Optional[base]


class RecordMeta(msgspec.StructMeta):
    """Calling a kind validates: ``EnergyData(ts=..., pv_power_w=...)`` is ``EnergyData.validate({...})``."""

    def __call__(cls, *args: Any, **values: Any) -> "Record":
        if args:
            raise TypeError(f"{cls.__name__}() takes field values by name only (or use {cls.__name__}.from_trusted)")
        return cls.validate(values)


_build = msgspec.StructMeta.__call__  # the Struct constructor itself: trusted values, no checks
_convert = msgspec.convert
_ConvertError = msgspec.ValidationError


class Record(msgspec.Struct, frozen=True, gc=False, order=True, forbid_unknown_fields=True,
             metaclass=RecordMeta):
    """Base of every record kind: a frozen msgspec Struct with named, validated fields."""

    KIND: ClassVar[str] = ""
    SPEC: ClassVar[KindSpec]
    FIELDS: ClassVar[tuple[str, ...]] = ()
    #: Field name -> position in ``FIELDS`` / :meth:`as_tuple` (read-only, the same for the whole kind).
    INDEX: ClassVar[Mapping[str, int]] = MappingProxyType({})
    _CHECKS: ClassVar[tuple] = ()
    _KNOWN: ClassVar[frozenset] = frozenset()
    _REQUIRED: ClassVar[frozenset] = frozenset()
    _DATETIMES: ClassVar[tuple[str, ...]] = ()
    _DATETIMES_REQUIRED: ClassVar[tuple[str, ...]] = ()
    _DATETIMES_OPTIONAL: ClassVar[tuple[str, ...]] = ()
    _LIST_TYPE: ClassVar[Any] = None

    @classmethod
    def validate(cls, values: Mapping[str, Any]) -> "Record":
        """A record of this kind from a mapping, every value checked and converted.

        A dict is converted by ``msgspec.convert`` against the kind's types and constraints
        (an unknown key is refused there); whatever it refuses, and a result with a required
        field missing or a time not in UTC (see :meth:`_all_settled`), goes through the
        generic rules (:meth:`validate_generic`), which convert or raise the error naming
        kind, field and value. Both give the same record for the same input
        (``tests/test_records_msgspec.py``)."""
        if type(values) is dict:
            try:
                record = _convert(values, cls)
            except _ConvertError:
                return cls.validate_generic(values)
            for name in cls._REQUIRED:  # as _all_settled, for one record
                if getattr(record, name) is None:
                    return cls.validate_generic(values)
            for name in cls._DATETIMES:
                v = getattr(record, name)
                if v is not None and v.tzinfo is not UTC:
                    return cls.validate_generic(values)
            return record
        return cls.validate_generic(values)

    @classmethod
    def validate_dicts(cls, items: list[dict]) -> list["Record"]:
        """:meth:`validate` of a list of dicts: one ``msgspec.convert`` of the whole list in
        the common case, each item on its own when the list holds anything unusual."""
        try:
            out = _convert(items, cls._LIST_TYPE)
        except _ConvertError:
            return [cls.validate(item) for item in items]
        return out if cls._all_settled(out) else [cls.validate(item) for item in items]

    @classmethod
    def _all_settled(cls, records: Sequence["Record"]) -> bool:
        """Whether converted records need nothing more: every required field present
        (msgspec fills an absent one with ``None``) and every time already in UTC (msgspec
        keeps the offset it was given). Loops in C over the whole batch."""
        for name in cls._REQUIRED:
            if None in map(attrgetter(name), records):
                return False
        for name in cls._DATETIMES_REQUIRED:
            if not set(map(attrgetter(name + ".tzinfo"), records)) <= _ONLY_UTC:
                return False
        for name in cls._DATETIMES_OPTIONAL:
            if not {v.tzinfo for v in map(attrgetter(name), records) if v is not None} <= _ONLY_UTC:
                return False
        return True

    @classmethod
    def validate_generic(cls, values: Mapping[str, Any]) -> "Record":
        """The rules of every kind in plain Python: convert each value or raise
        :class:`RecordValidationError` naming kind, field and value; unknown keys go into payload."""
        kind = cls.KIND
        out = []
        get = values.get
        for name, field, convert in cls._CHECKS:
            v = get(name)
            if v is None:
                if field.required:
                    v = cls._default(name, values)
                    if v is None:
                        raise RecordValidationError(kind, name, "is required")
                    v = convert(v, kind, field)
                elif name == "payload":
                    v = {}
            else:
                v = convert(v, kind, field)
            out.append(v)
        known = cls._KNOWN
        extra = [k for k in values if k not in known]
        if extra:
            payload = dict(out[-1])
            for k in extra:
                if type(k) is not str:
                    raise RecordValidationError(kind, str(k), "field names must be text")
                payload[k] = values[k]
            out[-1] = payload
        return _build(cls, *out)

    @classmethod
    def _default(cls, name: str, values: Mapping[str, Any]) -> Any:
        """A derived default for a required field (only decision ids have one)."""
        return None

    @classmethod
    def from_trusted(cls, values: Iterable[Any]) -> "Record":
        """Build a record from values already valid for this kind, in FIELDS order, without
        checking them: for backends rebuilding rows they stored (aware UTC datetimes, payload
        a dict). Anything from outside goes through the class or :func:`make_record`."""
        return _build(cls, *values)

    @classmethod
    def trusted_builder(cls) -> Callable[..., "Record"]:
        """A function building a record of this kind from its values given positionally in
        FIELDS order, without checks: the cheapest :meth:`from_trusted`, for a backend's row decoder."""
        return partial(_build, cls)

    @classmethod
    def many_from_trusted(cls, rows: Iterable[Iterable[Any]]) -> list["Record"]:
        """:meth:`from_trusted` of many rows at once (reads)."""
        return list(starmap(partial(_build, cls), rows))

    @property
    def key(self) -> tuple:
        """The natural key of this record, as a tuple."""
        return tuple(getattr(self, k) for k in self.SPEC.key)

    @property
    def time(self):
        """The value of this kind's time axis (a datetime, or a date for daily_stats)."""
        return getattr(self, self.SPEC.time_field)

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict of its fields (payload included, as a dict)."""
        return _asdict(self)

    def as_tuple(self) -> tuple:
        """The field values in ``FIELDS`` order, as a plain tuple (what a driver binds)."""
        return _astuple(self)

    def replace(self, **changes: Any) -> "Record":
        """A validated copy with some fields changed."""
        values = _asdict(self)
        values.update(changes)
        return type(self).validate(values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(self.FIELDS, _astuple(self)) if v is not None and v != {})
        return f"{type(self).__name__}({inner})"

    def __reduce__(self):
        return (type(self).from_trusted, (_astuple(self),))


_ONLY_UTC = frozenset([UTC])
_asdict = msgspec.structs.asdict
_astuple = msgspec.structs.astuple


def _make_class(spec: KindSpec, name: str) -> type[Record]:
    namespace: dict[str, Any] = {
        "__annotations__": {f.name: _struct_type(f) for f in spec.fields},
        "__doc__": spec.doc,
        "__module__": __name__,
        "__qualname__": name,
        "KIND": spec.name,
        "SPEC": spec,
        "FIELDS": spec.field_names,
        "INDEX": MappingProxyType({n: i for i, n in enumerate(spec.field_names)}),
        "_CHECKS": tuple((f.name, f, _CONVERTERS[f.type]) for f in spec.fields),
        "_KNOWN": frozenset(spec.field_names),
        "_REQUIRED": frozenset(f.name for f in spec.fields if f.required),
        "_DATETIMES": tuple(f.name for f in spec.fields if f.type == "datetime"),
        "_DATETIMES_REQUIRED": tuple(f.name for f in spec.fields if f.type == "datetime" and f.required),
        "_DATETIMES_OPTIONAL": tuple(f.name for f in spec.fields if f.type == "datetime" and not f.required),
    }
    for f in spec.fields:
        namespace[f.name] = {} if f.name == "payload" else None
    cls = RecordMeta(name, (Record,), namespace, frozen=True, gc=False, order=True, forbid_unknown_fields=True)
    cls._LIST_TYPE = list[cls]
    return cls


EnergyData = _make_class(KINDS["energy_data"], "EnergyData")
SystemState = _make_class(KINDS["system_state"], "SystemState")
CoordinatorDecision = _make_class(KINDS["coordinator_decisions"], "CoordinatorDecision")
ChargingSession = _make_class(KINDS["charging_sessions"], "ChargingSession")
BatterySellingSession = _make_class(KINDS["battery_selling_sessions"], "BatterySellingSession")
DailyStats = _make_class(KINDS["daily_stats"], "DailyStats")
PriceForecast = _make_class(KINDS["price_forecasts"], "PriceForecast")
PvForecast = _make_class(KINDS["pv_forecasts"], "PvForecast")


def _decision_id_default(cls, name, values):
    if name != "decision_id":
        return None
    dtype, ts = values.get("decision_type"), values.get("ts")
    if dtype is None or ts is None:
        return None
    return f"{dtype}:{parse_datetime(ts, kind=cls.KIND, field='ts').isoformat()}"


CoordinatorDecision._default = classmethod(_decision_id_default)

RECORD_CLASSES: dict[str, type[Record]] = {
    cls.KIND: cls
    for cls in (EnergyData, SystemState, CoordinatorDecision, ChargingSession,
                BatterySellingSession, DailyStats, PriceForecast, PvForecast)
}


def record_class(kind: str) -> type[Record]:
    """The record class of ``kind``; an unknown kind raises ``UnknownKindError``."""
    try:
        return RECORD_CLASSES[kind]
    except KeyError:
        raise UnknownKindError(kind) from None


def make_record(kind: str, values: Mapping[str, Any] | Record) -> Record:
    """Validate ``values`` (a mapping or a record) as a record of ``kind``."""
    cls = record_class(kind)
    if type(values) is cls:
        return values
    if isinstance(values, Record):
        raise RecordValidationError(kind, "", f"got a {values.KIND} record")
    if not isinstance(values, Mapping):
        raise RecordValidationError(kind, "", f"expected a mapping or a record, got {type(values).__name__}")
    return cls.validate(values)


def make_records(kind: str, items: Iterable[Mapping[str, Any] | Record]) -> list[Record]:
    """Validate many items as records of ``kind`` (see :func:`make_record`)."""
    cls = record_class(kind)
    if type(items) is list:
        types = set(map(type, items))
        if types <= {cls}:
            return items.copy()  # records of the kind already (the collector's batches): one C-level pass
        if types == {dict}:
            return cls.validate_dicts(items)
    validated = cls.validate
    out = []
    for item in items:
        if type(item) is cls:
            out.append(item)
        elif type(item) is dict or (isinstance(item, Mapping) and not isinstance(item, Record)):
            out.append(validated(item))
        else:
            out.append(make_record(kind, item))
    return out


def json_decoder(kind: str) -> Callable[[bytes | str], Record]:
    """A function decoding one JSON object (bytes or text) into a validated record of ``kind``.

    The typed msgspec decoder builds the record straight from the JSON; an object it refuses
    (an unknown key, an offset other than UTC, a value out of range, a required field
    missing) is decoded generically and validated like a mapping, so the result and every
    error are those of :func:`make_record`. Text that is not JSON raises a
    :class:`RecordValidationError` naming the kind."""
    cls = record_class(kind)
    typed = msgspec.json.Decoder(cls).decode
    generic = msgspec.json.Decoder().decode
    required = tuple(cls._REQUIRED)
    datetimes = cls._DATETIMES

    def decode(data: bytes | str) -> Record:
        try:
            record = typed(data)
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError as exc:
            raise RecordValidationError(kind, "", f"not JSON: {exc}") from None
        else:
            if all(getattr(record, n) is not None for n in required) and all(
                    (v := getattr(record, n)) is None or v.tzinfo is UTC for n in datetimes):
                return record
        return make_record(kind, generic(data))

    return decode
