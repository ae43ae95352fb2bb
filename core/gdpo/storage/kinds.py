"""The contract of the eight record kinds: their fields (name, type, limits, unit in the name),
natural keys and time axes. :mod:`gdpo.storage.records` builds the record classes from it;
backends build their tables from it (ARCHITECTURE.md, "Record kinds")."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

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
