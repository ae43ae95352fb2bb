"""The eight record kinds: typed, immutable, validated records with natural keys.

Each kind is a tuple subclass (fast to build, to compare and to hand to a database
driver) whose fields are listed in ``FIELDS`` order. Building one through the class
(``EnergyData(ts=..., pv_power_w=...)``) or through :func:`make_record` validates every
value; backends rebuild trusted rows with ``Kind.from_trusted(values)``, which skips
validation, and find a field's position in the tuple with ``Kind.INDEX[name]`` (the public
API a backend needs; everything starting with ``_`` is this module's own).

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
from dataclasses import dataclass
from types import MappingProxyType
from itertools import repeat
from typing import Any, Callable, Iterable, Mapping, Sequence

from gdpo.storage.errors import RecordValidationError

UTC = _dt.timezone.utc
LOCAL_TZ_NAME = "Europe/Warsaw"

# --------------------------------------------------------------------------- field types


@dataclass(frozen=True, slots=True)
class Field:
    """One column of a record kind: its name, type, and the values it accepts."""

    name: str
    type: str  # "datetime", "date", "float", "int", "str", "bool", "json"
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    doc: str = ""


def _f(name, type_, doc="", **kw) -> Field:
    return Field(name, type_, doc=doc, **kw)


def _ts(name, doc="", required=False) -> Field:
    return Field(name, "datetime", required=required, doc=doc)


# --------------------------------------------------------------------------- the kinds


@dataclass(frozen=True, slots=True)
class KindSpec:
    """The contract of one record kind: its fields, natural key and time axis."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    time_field: str
    doc: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def numeric_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.type in ("float", "int"))


_PAYLOAD = _f("payload", "json", "Lossless JSON object of every field without a column")

SYSTEM_STATES = ("starting", "monitoring", "charging", "selling", "degraded", "error", "stopped")
SESSION_STATUSES = ("planned", "active", "completed", "cancelled", "failed")

KINDS: dict[str, KindSpec] = {}


def _kind(name: str, key: tuple[str, ...], time_field: str, doc: str, *fields: Field) -> KindSpec:
    spec = KindSpec(name, tuple(fields) + (_PAYLOAD,), key, time_field, doc)
    KINDS[name] = spec
    return spec


_kind(
    "energy_data", ("ts",), "ts",
    "One inverter reading (every minute).",
    _ts("ts", "Time of the reading (UTC)", required=True),
    _f("battery_soc_pct", "float", "Battery state of charge, %", min=0, max=100),
    _f("battery_power_w", "float", "Battery power, W; > 0 charging, < 0 discharging"),
    _f("battery_voltage_v", "float", "Battery voltage, V", min=0),
    _f("battery_current_a", "float", "Battery current, A"),
    _f("battery_temp_c", "float", "Battery temperature, deg C", min=-60, max=120),
    _f("pv_power_w", "float", "PV power, W", min=0),
    _f("grid_power_w", "float", "Grid power, W; > 0 import, < 0 export"),
    _f("grid_voltage_v", "float", "Grid voltage, V", min=0),
    _f("house_consumption_w", "float", "House load, W"),
    _f("grid_import_total_kwh", "float", "Meter lifetime import counter, kWh", min=0),
    _f("grid_export_total_kwh", "float", "Meter lifetime export counter, kWh", min=0),
    _f("pv_energy_today_kwh", "float", "PV energy today (inverter counter), kWh", min=0),
    _f("house_consumption_total_kwh", "float", "House consumption lifetime counter, kWh", min=0),
    _f("price_pln_kwh", "float", "Final buy price in force, PLN/kWh"),
    _f("tariff_zone", "str", "Tariff zone in force (peak, off_peak, ...)"),
)

_kind(
    "system_state", ("ts",), "ts",
    "A small heartbeat of the coordinator (every minute).",
    _ts("ts", "Time of the heartbeat (UTC)", required=True),
    _f("state", "str", "Coordinator state", required=True, choices=SYSTEM_STATES),
    _f("uptime_s", "float", "Seconds since the coordinator started", min=0),
    _f("last_error", "str", "Last error message, if any"),
    _f("metrics", "json", "A few small metrics (JSON object)"),
)

_kind(
    "coordinator_decisions", ("decision_id",), "ts",
    "One charging or selling decision, with the whole original decision in payload.",
    _f("decision_id", "str", "Deterministic id, '<decision_type>:<ts iso>' by default", required=True),
    _ts("ts", "Time of the decision (UTC)", required=True),
    _f("decision_type", "str", "charging or selling", required=True, choices=("charging", "selling")),
    _f("action", "str", "charge, wait, stop, sell, ...", required=True),
    _f("reason", "str", "Why, in words"),
    _f("confidence", "float", "0..1", min=0, max=1),
    _f("battery_soc_pct", "float", "SOC when deciding, %", min=0, max=100),
    _f("price_pln_kwh", "float", "Price the decision saw, PLN/kWh"),
    _f("energy_kwh", "float", "Energy to charge or sell, kWh"),
    _f("estimated_cost_pln", "float", "Estimated cost, PLN"),
    _f("estimated_savings_pln", "float", "Estimated savings, PLN"),
    _f("expected_revenue_pln", "float", "Expected selling revenue, PLN"),
    _f("source_module", "str", "Component that decided"),
)

_kind(
    "charging_sessions", ("session_id",), "start_ts",
    "A grid charging session, planned or measured.",
    _f("session_id", "str", "Session id", required=True),
    _ts("start_ts", "Start (UTC)", required=True),
    _ts("end_ts", "End (UTC)"),
    _f("status", "str", "Session status", required=True, choices=SESSION_STATUSES),
    _f("target_soc_pct", "float", "Target SOC, %", min=0, max=100),
    _f("planned_energy_kwh", "float", "Planned energy, kWh", min=0),
    _f("actual_energy_kwh", "float", "Measured energy, kWh"),
    _f("cost_pln", "float", "Measured cost, PLN"),
    _f("avg_price_pln_kwh", "float", "Average price, PLN/kWh"),
    _f("origin", "str", "plan, decision or legacy", choices=("plan", "decision", "legacy")),
)

_kind(
    "battery_selling_sessions", ("session_id",), "start_ts",
    "A battery selling (export) session.",
    _f("session_id", "str", "Session id", required=True),
    _ts("start_ts", "Start (UTC)", required=True),
    _ts("end_ts", "End (UTC)"),
    _f("status", "str", "Session status", required=True, choices=SESSION_STATUSES),
    _f("start_soc_pct", "float", "SOC at start, %", min=0, max=100),
    _f("end_soc_pct", "float", "SOC at end, %", min=0, max=100),
    _f("energy_sold_kwh", "float", "Measured exported energy, kWh"),
    _f("revenue_pln", "float", "Revenue, PLN"),
    _f("avg_price_pln_kwh", "float", "Average export price, PLN/kWh"),
    _f("selling_power_w", "float", "Selling power, W", min=0),
)

_kind(
    "daily_stats", ("date",), "date",
    "Totals of one local (Europe/Warsaw) calendar day.",
    _f("date", "date", "Local calendar day", required=True),
    _f("total_consumption_kwh", "float", "House consumption, kWh"),
    _f("total_pv_kwh", "float", "PV production, kWh"),
    _f("total_grid_import_kwh", "float", "Grid import, kWh"),
    _f("total_grid_export_kwh", "float", "Grid export, kWh"),
    _f("avg_price_pln_kwh", "float", "Average buy price, PLN/kWh"),
    _f("grid_charge_kwh", "float", "Energy charged from the grid, kWh"),
    _f("grid_charge_cost_pln", "float", "Cost of grid charging, PLN"),
    _f("selling_revenue_pln", "float", "Selling revenue, PLN"),
    _f("source", "str", "computed or legacy", choices=("computed", "legacy")),
)

_kind(
    "price_forecasts", ("period_start", "source"), "period_start",
    "One price period (quarter-hour or hour), market or final, in PLN/kWh.",
    _ts("period_start", "Start of the period (UTC)", required=True),
    _f("source", "str", "Where the price came from (csdac-pln, ...)", required=True),
    _f("period_minutes", "int", "Length of the period, minutes", required=True, min=1, max=1440),
    _f("price_pln_kwh", "float", "Price, PLN/kWh (may be negative)", required=True),
    _f("price_kind", "str", "market or final", choices=("market", "final")),
    _f("business_date", "date", "Delivery day (local)"),
    _ts("published_at", "When the source published it (UTC)"),
    _ts("fetched_at", "When gdpo fetched it (UTC)"),
)

_kind(
    "pv_forecasts", ("period_start", "source"), "period_start",
    "Forecast PV power for one period.",
    _ts("period_start", "Start of the period (UTC)", required=True),
    _f("source", "str", "Forecast method or provider", required=True),
    _f("period_minutes", "int", "Length of the period, minutes", required=True, min=1, max=1440),
    _f("power_w", "float", "Forecast average PV power, W", min=0),
    _f("confidence", "float", "0..1", min=0, max=1),
    _ts("made_at", "When the forecast was made (UTC)"),
)

KIND_NAMES: tuple[str, ...] = tuple(KINDS)

# --------------------------------------------------------------------------- conversion


def parse_datetime(value: Any, *, kind: str = "", field: str = "") -> _dt.datetime:
    """Return ``value`` as an aware UTC datetime; accept aware datetimes and ISO strings.

    A naive datetime or an ISO string without an offset is rejected: gdpo never guesses
    the timezone of a stored timestamp.
    """
    if type(value) is str:
        try:
            value = _dt.datetime.fromisoformat(value)
        except ValueError:
            raise RecordValidationError(kind, field, f"not an ISO-8601 timestamp: {value!r}") from None
    if not isinstance(value, _dt.datetime):
        raise RecordValidationError(kind, field, f"expected a timezone-aware datetime, got {type(value).__name__}")
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None or tz.utcoffset(value) is None:
        raise RecordValidationError(kind, field, f"naive datetime {value.isoformat()} (timezone required)")
    return value.astimezone(UTC)


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


# whole numbers beyond this go to the generic validation, which reports float() overflowing
FLOAT_SAFE_INT = 2**1000


def _float(value, kind, f: Field):
    t = type(value)
    if t is float:
        if value != value or value in (math.inf, -math.inf):
            raise RecordValidationError(kind, f.name, f"not a finite number: {value!r}")
    elif t is int:
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
        if type(value) is float and value.is_integer():
            value = int(value)
        else:
            raise RecordValidationError(kind, f.name, f"expected a whole number, got {type(value).__name__} {value!r}")
    if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
        raise RecordValidationError(kind, f.name, f"{value!r} is outside {_limits(f)}")
    return value


def _str(value, kind, f: Field):
    if type(value) is not str:
        raise RecordValidationError(kind, f.name, f"expected text, got {type(value).__name__} {value!r}")
    if f.choices is not None and value not in f.choices:
        raise RecordValidationError(kind, f.name, f"{value!r} is not one of {', '.join(f.choices)}")
    return value


def _bool(value, kind, f: Field):
    if type(value) is not bool:
        raise RecordValidationError(kind, f.name, f"expected true or false, got {value!r}")
    return value


def _json(value, kind, f: Field):
    if not isinstance(value, dict):
        raise RecordValidationError(kind, f.name, f"expected a JSON object, got {type(value).__name__}")
    return value


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


class Record(tuple):
    """Base of every record kind: an immutable tuple with named, validated fields."""

    __slots__ = ()
    KIND: str = ""
    SPEC: KindSpec
    FIELDS: tuple[str, ...] = ()
    _CHECKS: tuple = ()
    _INDEX: dict[str, int] = {}
    #: Field name -> position in the tuple (read-only; the same for every record of the kind).
    INDEX: Mapping[str, int] = MappingProxyType({})

    def __new__(cls, **values: Any):
        return cls._validated(values)

    @classmethod
    def _validated(cls, values: Mapping[str, Any]) -> "Record":
        """Validate a mapping (replaced per kind by a generated fast path, see
        ``_compile_fast_validator``, which hands anything unusual back to this method)."""
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
        index = cls._INDEX
        extra = [k for k in values if k not in index]
        if extra:
            payload = dict(out[-1])
            for k in extra:
                if type(k) is not str:
                    raise RecordValidationError(kind, str(k), "field names must be text")
                payload[k] = values[k]
            out[-1] = payload
        return tuple.__new__(cls, out)

    @classmethod
    def _default(cls, name: str, values: Mapping[str, Any]) -> Any:
        """A derived default for a required field (only decision ids have one)."""
        return None

    @classmethod
    def _trusted(cls, values: Iterable[Any]) -> "Record":
        """Build a record from already-validated values in FIELDS order (no checks)."""
        return tuple.__new__(cls, values)

    @classmethod
    def from_trusted(cls, values: Iterable[Any]) -> "Record":
        """Build a record from values already valid for this kind, in FIELDS order, without
        checking them: for backends rebuilding rows they stored (aware UTC datetimes, payload
        a dict). Anything from outside goes through the class or :func:`make_record`."""
        return tuple.__new__(cls, values)

    @classmethod
    def many_from_trusted(cls, rows: Sequence[Iterable[Any]]) -> list["Record"]:
        """:meth:`from_trusted` of many rows at once, without a Python call per row (reads)."""
        return list(map(tuple.__new__, repeat(cls, len(rows)), rows))

    @property
    def key(self) -> tuple:
        """The natural key of this record, as a tuple."""
        idx = self._INDEX
        return tuple(self[idx[k]] for k in self.SPEC.key)

    @property
    def time(self):
        """The value of this kind's time axis (a datetime, or a date for daily_stats)."""
        return self[self._INDEX[self.SPEC.time_field]]

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict of its fields (payload included, as a dict)."""
        return dict(zip(self.FIELDS, self))

    def as_tuple(self) -> tuple:
        """The field values in ``FIELDS`` order, as a plain tuple (what a driver binds)."""
        return tuple(self)

    def replace(self, **changes: Any) -> "Record":
        """A validated copy with some fields changed."""
        values = self.to_dict()
        values.update(changes)
        return type(self)._validated(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._INDEX[name]]
        except KeyError:
            raise AttributeError(f"{self.KIND} record has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self.KIND} records are immutable")

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(self.FIELDS, self) if v is not None and v != {})
        return f"{type(self).__name__}({inner})"

    def __reduce__(self):
        return (type(self)._trusted, (tuple(self),))


def _make_class(spec: KindSpec, name: str) -> type[Record]:
    checks = tuple((f.name, f, _CONVERTERS[f.type]) for f in spec.fields)
    attrs = {
        "__slots__": (),
        "__doc__": spec.doc,
        "KIND": spec.name,
        "SPEC": spec,
        "FIELDS": spec.field_names,
        "_CHECKS": checks,
        "_INDEX": {n: i for i, n in enumerate(spec.field_names)},
    }
    attrs["INDEX"] = MappingProxyType(attrs["_INDEX"])
    attrs["__module__"] = __name__
    cls = type(name, (Record,), attrs)
    # Fast named access: a property per field (beats __getattr__ by a wide margin).
    for i, fname in enumerate(spec.field_names):
        setattr(cls, fname, property(lambda self, i=i: tuple.__getitem__(self, i), doc=spec.fields[i].doc))
    return cls


def _fast_check(f: Field, v: str) -> str:
    """Source of a condition that is true when value ``v`` of field ``f`` needs the full
    validation path (wrong type, out of range, a conversion, a required value missing)."""
    if f.type == "float":
        lo = "-_INF <" if f.min is None else f"{float(f.min)!r} <="
        hi = "< _INF" if f.max is None else f"<= {float(f.max)!r}"
        bounds = f"{lo} {v} {hi}"
        bad = f"type({v}) is not float or not ({bounds})"  # NaN fails every comparison
    elif f.type == "int":
        lo = "" if f.min is None else f"{f.min!r} <= "
        hi = "" if f.max is None else f" <= {f.max!r}"
        bad = f"type({v}) is not int" + (f" or not ({lo}{v}{hi})" if lo or hi else "")
    elif f.type == "str":
        bad = f"type({v}) is not str" + (f" or {v} not in {frozenset(f.choices)!r}" if f.choices else "")
    elif f.type == "datetime":
        bad = f"type({v}) is not _datetime or {v}.tzinfo is not _UTC"
    elif f.type == "date":
        bad = f"type({v}) is not _date"
    elif f.type == "bool":
        bad = f"type({v}) is not bool"
    else:  # json
        bad = f"type({v}) is not dict"
    if f.required:
        return f"{v} is None or {bad}"
    return f"{v} is not None and ({bad})"


def _compile_fast_validator(cls: type[Record]) -> None:
    """Give ``cls`` a generated ``_validated`` for the common case: a plain mapping of known
    keys whose values already have their stored types (aware UTC datetimes, floats in range,
    ...), whole numbers in float fields included (converted as ``_float`` converts them). Anything else goes to the generic method, which converts or raises exactly as
    before; so the result and every error message are unchanged, only faster."""
    spec = cls.SPEC
    lines = ["def _validated(cls, values):",
             "    if not (values.keys() <= _KNOWN):",
             "        return _slow(cls, values)",
             "    get = values.get"]
    names = []
    for i, f in enumerate(spec.fields):
        v = f"v{i}"
        names.append(v)
        lines.append(f"    {v} = get({f.name!r})")
        if f.name == "payload":
            lines.append(f"    if {v} is None:\n        {v} = {{}}")
            lines.append(f"    elif type({v}) is not dict:\n        return _slow(cls, values)")
            continue
        if f.type == "float":  # a whole number in a float field: the value _float would make of it
            lines.append(f"    if type({v}) is int:\n        if not -_FLOAT_LIMIT < {v} < _FLOAT_LIMIT:\n"
                         f"            return _slow(cls, values)\n        {v} = float({v})")
        lines.append(f"    if {_fast_check(f, v)}:\n        return _slow(cls, values)")
    lines.append(f"    return _new(cls, ({', '.join(names)},))")
    namespace = {"_KNOWN": frozenset(spec.field_names), "_slow": Record._validated.__func__, "_new": tuple.__new__,
                 "_INF": math.inf, "_datetime": _dt.datetime, "_date": _dt.date, "_UTC": UTC,
                 "_FLOAT_LIMIT": FLOAT_SAFE_INT}
    # Generated code kept on measurement: benchmarks/codegen_bench.py ("records: validate
    # mappings") shows it 1.5-2.1x the generic method (the 20 % rule of issue 19); the generic
    # method stays the one definition of the rules (tests/sqlite/test_records_fast_path.py).
    exec("\n".join(lines), namespace)  # noqa: S102  (source built from the specs above only)
    cls._validated = classmethod(namespace["_validated"])


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

for _cls in (EnergyData, SystemState, CoordinatorDecision, ChargingSession, BatterySellingSession, DailyStats,
             PriceForecast, PvForecast):
    _compile_fast_validator(_cls)

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
        from gdpo.storage.errors import UnknownKindError

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
    return cls._validated(values)


def make_records(kind: str, items: Iterable[Mapping[str, Any] | Record]) -> list[Record]:
    """Validate many items as records of ``kind`` (see :func:`make_record`)."""
    cls = record_class(kind)
    if type(items) is list and set(map(type, items)) <= {cls}:
        return items.copy()  # records of the kind already (the collector's batches): one C-level pass
    validated = cls._validated
    out = []
    for item in items:
        if type(item) is cls:
            out.append(item)
        elif isinstance(item, Mapping) and not isinstance(item, Record):
            out.append(validated(item))
        else:
            out.append(make_record(kind, item))
    return out
