"""Mapping legacy JSON objects to records, by their keys (LEGACY_FORMATS.md, manifest conventions).

:func:`classify_object` sniffs one parsed JSON object and returns a :class:`Shape`: its
legacy kind label and either a mapper (object -> records) or the reason it is skipped.
Mappers convert GoodWe signs (grid + export -> + import, battery + discharge -> + charging),
turn ``"Unknown"`` into null in columns (payloads keep it verbatim), rename fields and
convert local timestamps through a :class:`~gdpo_json_legacy.localtime.LocalClock`.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Callable

from gdpo.storage import (BatterySellingSession, ChargingSession, CoordinatorDecision, DailyStats, EnergyData,
                          PriceForecast, PvForecast, Record, SystemState)

from gdpo_json_legacy.exact import ENVELOPE_KEY, from_envelope
from gdpo_json_legacy.flat_rows import (  # noqa: F401  (FLAT_ENERGY_KEYS, PAYLOAD_KEY: re-exported)
    FLAT_ENERGY_KEYS, PAYLOAD_KEY, UNKNOWN, energy_from_flat_row, energy_from_flat_rows,
)
from gdpo_json_legacy.localtime import LocalClock, parse_naive_or_aware

Mapper = Callable[[Any, LocalClock], list[Record]]

PRICE_HISTORY_SOURCE = "legacy-price-history"
PV_FORECAST_SOURCE = "legacy-pv-forecast"
_DATE_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Shape:
    """What a parsed legacy object is: a label, and a mapper or a skip reason."""

    label: str
    mapper: Mapper | None = None
    skip_reason: str | None = None


def col(value: Any) -> Any:
    """A legacy value for a column: ``"Unknown"`` becomes None (never 0)."""
    return None if value == UNKNOWN else value


def neg(value: Any) -> Any:
    """A GoodWe-signed number in the canonical sign (None, "Unknown" and non-numbers pass)."""
    value = col(value)
    if type(value) in (int, float):
        return -value if value else value
    return value


def _sub(obj: dict, key: str) -> dict:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _first(obj: dict, *keys: str) -> Any:
    for key in keys:
        if key in obj:
            return col(obj[key])
    return None


# --------------------------------------------------------------------------- energy


def energy_from_comprehensive(obj: dict, clock: LocalClock, *, ts=None) -> EnergyData:
    """One ``comprehensive_data`` object (D1, D3 item, a state's ``current_data``)."""
    battery, pv, grid = _sub(obj, "battery"), _sub(obj, "photovoltaic"), _sub(obj, "grid")
    house = _sub(obj, "house_consumption")
    pv_power = col(pv.get("current_power_w")) if "current_power_w" in pv else col(_sub(obj, "pv").get("power_w"))
    house_power = (col(house.get("current_power_w")) if "current_power_w" in house
                   else col(_sub(obj, "consumption").get("current_power_w")))
    return EnergyData.validate({
        "ts": ts if ts is not None else clock.to_utc(obj.get("timestamp"), "energy_data"),
        "battery_soc_pct": col(battery.get("soc_percent")),
        "battery_power_w": neg(battery.get("power_w")),
        "battery_voltage_v": col(battery.get("voltage")),
        "battery_current_a": neg(battery.get("current")),
        "battery_temp_c": col(battery.get("temperature")),
        "pv_power_w": pv_power,
        "grid_power_w": neg(grid.get("power_w")),
        "grid_voltage_v": col(grid.get("voltage")),
        "house_consumption_w": house_power,
        "grid_import_total_kwh": col(grid.get("total_imported_kwh")),
        "grid_export_total_kwh": col(grid.get("total_exported_kwh")),
        "pv_energy_today_kwh": col(pv.get("daily_production_kwh")),
        "house_consumption_total_kwh": col(house.get("total_consumption_kwh")),
        "tariff_zone": col(obj.get("tariff_zone")),
        "payload": obj,
    })


def _map_comprehensive(obj, clock):
    return [energy_from_comprehensive(obj, clock)]


def _map_flat_row(obj, clock):
    return [energy_from_flat_row(obj, clock)]


def _map_energy_wrapper(obj, clock):
    rows = obj["data"]
    records = energy_from_flat_rows(rows, clock)
    if records is not None:
        return records
    return [energy_from_flat_row(_need_dict(row, i), clock) for i, row in enumerate(rows)]


# --------------------------------------------------------------------------- state


STATE_SYNONYMS = {"initializing": "starting", "starting": "starting", "discharging": "selling",
                  "maintenance": "degraded", "emergency": "error", "shutdown": "stopped"}


def _map_state(obj, clock):
    ts = clock.to_utc(obj.get("timestamp"), "system_state")
    second = clock.in_second_occurrence
    state = obj.get("state")
    metrics = obj.get("performance_metrics")
    out: list[Record] = [SystemState.validate({
        "ts": ts,
        "state": STATE_SYNONYMS.get(state, state),
        "uptime_s": col(obj.get("uptime_seconds", obj.get("uptime_s"))),
        "last_error": col(obj.get("last_error")),
        "metrics": metrics if isinstance(metrics, dict) else None,
        "payload": obj,
    })]
    current = obj.get("current_data")
    if isinstance(current, dict) and "timestamp" in current:
        cts = clock.to_utc(current["timestamp"], "energy_data", track=False,
                           second=second if clock.ordered else None)
        out.append(energy_from_comprehensive(current, clock, ts=cts))
    return out


# --------------------------------------------------------------------------- decisions


def is_selling_decision(obj: dict) -> bool:
    """True for a selling decision (B, or a composite NDJSON line with type selling)."""
    return (obj.get("type") == "selling" or obj.get("decision_type") == "selling"
            or obj.get("action") == "battery_selling" or "decision" in obj and "reasoning" in obj)


def _map_decision(obj, clock):
    selling = is_selling_decision(obj)
    dtype = "selling" if selling else "charging"
    energy = obj.get("energy_kwh", obj.get("energy_sold_kwh") if selling else None)
    ts = clock.to_utc(obj.get("timestamp"), "coordinator_decisions")
    return [CoordinatorDecision.validate({
        "ts": ts,
        "decision_id": f"{dtype}:{ts.isoformat()}",  # the kind's own default, given: one msgspec.convert
        "decision_type": dtype,
        "action": col(obj.get("action")) or (obj.get("decision") if selling else None),
        "reason": col(obj.get("reason", obj.get("reasoning"))),
        "confidence": col(obj.get("confidence")),
        "battery_soc_pct": col(obj.get("battery_soc")),
        "price_pln_kwh": _first(obj, "current_price", "current_price_pln", "current_price_pln_kwh"),
        "energy_kwh": col(energy),
        "estimated_cost_pln": col(obj.get("estimated_cost_pln")),
        "estimated_savings_pln": col(obj.get("estimated_savings_pln")),
        "expected_revenue_pln": col(obj.get("expected_revenue_pln")),
        "source_module": col(obj.get("source_module")),
        "payload": obj,
    })]


# --------------------------------------------------------------------------- sessions

CHARGING_SESSION_COLUMNS = {"session_id", "start_time", "end_time", "status", "target_energy_kwh",
                            "actual_energy_kwh", "target_soc", "actual_cost_pln", "avg_price"}
PLAN_META_KEY = "plan"


def charging_session_from_item(item: dict, clock: LocalClock, plan: dict | None = None) -> ChargingSession:
    """A G plan session or an E-session object (origin ``plan``)."""
    if ENVELOPE_KEY in item:
        return from_envelope(item[ENVELOPE_KEY])
    payload = {k: v for k, v in item.items() if k not in CHARGING_SESSION_COLUMNS}
    if plan is not None:
        payload[PLAN_META_KEY] = plan
    return ChargingSession.validate({
        "session_id": item.get("session_id"),
        "start_ts": clock.to_utc(item.get("start_time"), "charging_sessions"),
        "end_ts": _opt_ts(item.get("end_time"), clock),
        "status": col(item.get("status")),
        "target_soc_pct": col(item.get("target_soc")),
        "planned_energy_kwh": col(item.get("target_energy_kwh")),
        "actual_energy_kwh": col(item.get("actual_energy_kwh")),
        "cost_pln": col(item.get("actual_cost_pln")),
        "avg_price_pln_kwh": col(item.get("avg_price")),
        "origin": "plan",
        "payload": payload,
    })


def _opt_ts(value, clock: LocalClock):
    value = col(value)
    return None if value is None else clock.to_utc(value, "")


def _map_plan(obj, clock):
    sessions = obj.get("sessions")
    if not isinstance(sessions, list):
        raise ValueError("daily plan: 'sessions' is not a list")
    plan = {k: v for k, v in obj.items() if k != "sessions"}
    return [charging_session_from_item(_need_dict(s, i), clock, plan) for i, s in enumerate(sessions)]


def _map_charging_session(obj, clock):
    return [charging_session_from_item(obj, clock)]


SCHEDULE_WINDOW_PREFIX = "legacy-schedule:"


def schedule_window_session(window: dict, clock: LocalClock, schedule: dict) -> ChargingSession:
    """One E ``charging_windows`` item: a planned session, origin ``legacy``, PLN/MWh -> PLN/kWh."""
    if ENVELOPE_KEY in window:
        return from_envelope(window[ENVELOPE_KEY])
    start = clock.to_utc(window.get("start_time"), "charging_sessions")
    avg = col(window.get("avg_price"))
    payload = {k: v for k, v in window.items() if k not in ("start_time", "end_time")}
    payload["analysis"] = schedule.get("analysis")
    payload["date"] = schedule.get("date")
    extra = {k: v for k, v in schedule.items() if k not in ("analysis", "date", "charging_windows")}
    if extra:
        payload["schedule"] = extra
    return ChargingSession.validate({
        "session_id": SCHEDULE_WINDOW_PREFIX + start.isoformat(),
        "start_ts": start,
        "end_ts": _opt_ts(window.get("end_time"), clock),
        "status": "planned",
        "avg_price_pln_kwh": avg / 1000 if type(avg) in (int, float) else avg,
        "origin": "legacy",
        "payload": payload,
    })


def _map_schedule(obj, clock):
    windows = obj.get("charging_windows")
    if not isinstance(windows, list):
        raise ValueError("charging schedule: 'charging_windows' is not a list")
    return [schedule_window_session(_need_dict(w, i), clock, obj) for i, w in enumerate(windows)]


SELLING_SESSION_COLUMNS = {"session_id", "start_time", "end_time", "status", "start_soc", "end_soc",
                           "energy_sold_kwh", "revenue_pln", "average_price_pln", "avg_price", "selling_power_w"}


def _map_selling_session(obj, clock):
    if ENVELOPE_KEY in obj:
        return [from_envelope(obj[ENVELOPE_KEY])]
    return [BatterySellingSession.validate({
        "session_id": obj.get("session_id"),
        "start_ts": clock.to_utc(obj.get("start_time"), "battery_selling_sessions"),
        "end_ts": _opt_ts(obj.get("end_time"), clock),
        "status": col(obj.get("status")) or "completed",
        "start_soc_pct": col(obj.get("start_soc")),
        "end_soc_pct": col(obj.get("end_soc")),
        "energy_sold_kwh": col(obj.get("energy_sold_kwh")),
        "revenue_pln": col(obj.get("revenue_pln")),
        "avg_price_pln_kwh": _first(obj, "average_price_pln", "avg_price"),
        "selling_power_w": col(obj.get("selling_power_w")),
        "payload": {k: v for k, v in obj.items() if k not in SELLING_SESSION_COLUMNS},
    })]


def _map_selling_export(obj, clock):
    records = obj.get("session_records")
    if not isinstance(records, list):
        raise ValueError("selling export: 'session_records' is not a list")
    out: list[Record] = []
    for i, item in enumerate(records):
        out.extend(_map_selling_session(_need_dict(item, i), clock))
    return out


# --------------------------------------------------------------------------- daily stats


def _map_collector_daily_stats(obj, clock):
    pv, grid, house = _sub(obj, "pv_production"), _sub(obj, "grid"), _sub(obj, "house_consumption")
    return [DailyStats.validate({
        "date": obj.get("date"),
        "total_pv_kwh": col(pv.get("total_kwh")),
        "total_consumption_kwh": col(house.get("total_kwh")),
        "total_grid_import_kwh": col(grid.get("total_import_kwh")),
        "total_grid_export_kwh": col(grid.get("total_export_kwh")),
        "source": "legacy",
        "payload": obj,
    })]


def _map_daily_snapshot(obj, clock):
    prices = _sub(obj, "price_stats")
    return [DailyStats.validate({
        "date": obj.get("date"),
        "total_grid_import_kwh": col(obj.get("grid_import_total_kwh")),
        "avg_price_pln_kwh": col(prices.get("avg")),
        "grid_charge_kwh": col(obj.get("total_energy_kwh")),
        "grid_charge_cost_pln": col(obj.get("total_cost_pln")),
        "selling_revenue_pln": col(obj.get("selling_revenue_pln")),
        "source": "legacy",
        "payload": obj,
    })]


# --------------------------------------------------------------------------- forecasts

QUARTER = _dt.timedelta(minutes=15)


def _map_price_history(pairs, clock):
    out = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, dict) and ENVELOPE_KEY in pair:
            out.append(from_envelope(pair[ENVELOPE_KEY]))
            continue
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError(f"price history item {i} is not a [timestamp, price] pair")
        end = clock.to_utc(pair[0], "price_forecasts")
        out.append(PriceForecast.validate({
            "period_start": end - QUARTER, "source": PRICE_HISTORY_SOURCE, "period_minutes": 15,
            "price_pln_kwh": col(pair[1]), "price_kind": "market",
        }))
    return out


PV_FILE_META_KEY = "forecast"


def _map_pv_forecast(obj, clock):
    forecasts = obj.get("forecasts")
    if not isinstance(forecasts, list):
        raise ValueError("pv forecast: 'forecasts' is not a list")
    made_at = _opt_ts(obj.get("timestamp"), clock)
    meta = {k: v for k, v in obj.items() if k not in ("timestamp", "forecasts")}
    out = []
    for i, item in enumerate(forecasts):
        item = _need_dict(item, i)
        if ENVELOPE_KEY in item:
            out.append(from_envelope(item[ENVELOPE_KEY]))
            continue
        local = parse_naive_or_aware(item.get("timestamp"))
        hour = local.replace(minute=0, second=0, microsecond=0)
        power = col(item.get("forecasted_power_w"))
        if power is None and type(item.get("forecasted_power_kw")) in (int, float):
            power = item["forecasted_power_kw"] * 1000
        payload = {k: v for k, v in item.items() if k not in ("forecasted_power_w", "confidence")}
        payload[PV_FILE_META_KEY] = meta
        out.append(PvForecast.validate({
            "period_start": clock.to_utc(hour.isoformat(), "pv_forecasts"),
            "source": col(item.get("method")) or PV_FORECAST_SOURCE,
            "period_minutes": 60,
            "power_w": power,
            "confidence": col(item.get("confidence")),
            "made_at": made_at,
            "payload": payload,
        }))
    return out


def _map_envelope(obj, clock):
    return [from_envelope(obj[ENVELOPE_KEY])]


# --------------------------------------------------------------------------- sniffing


def _need_dict(item, index: int) -> dict:
    if not isinstance(item, dict):
        raise ValueError(f"item {index} is a {type(item).__name__}, not an object")
    return item


SKIP_REASONS = {
    "L-soc-drops": "selling-engine state, not history",
    "L-price-cache": "dashboard cache",
    "L-partial-sessions": "feature removed in e1422dc; tracking only",
    "F2": "derived (recompute from sessions)",
    "F3": "derived (recompute from sessions)",
    "K-monthly": "derived (recompute from daily records)",
}


def _skip(label: str) -> Shape:
    return Shape(label, skip_reason=SKIP_REASONS[label])


def classify_object(obj: Any) -> Shape | None:
    """The legacy kind of one parsed JSON document or NDJSON line, or None when none matches."""
    if isinstance(obj, list):
        return _classify_list(obj)
    if not isinstance(obj, dict):
        return None
    has = obj.__contains__
    if has(ENVELOPE_KEY):
        return Shape("gdpo", _map_envelope)
    if has("timestamp"):
        if has("state") and not has("action"):
            return Shape("C", _map_state)
        if has("action") or has("decision"):
            return Shape("B" if is_selling_decision(obj) else "A", _map_decision)
        if has("forecasts"):
            return Shape("H", _map_pv_forecast)
        if isinstance(obj.get("battery"), dict):
            return Shape("D1", _map_comprehensive)
        if any(k in FLAT_ENERGY_KEYS for k in obj):
            return Shape("I-row", _map_flat_row)
        return None
    if has("session_id"):
        if has("start_soc") or has("end_soc") or has("revenue_pln") or has("energy_sold_kwh"):
            return Shape("B-session", _map_selling_session)
        if has("start_time"):
            return Shape("E-session", _map_charging_session)
        return None
    if has("charging_windows"):
        return Shape("E", _map_schedule)
    if isinstance(obj.get("data"), list) and (has("file_timestamp") or has("record_count")):
        return Shape("J", _map_energy_wrapper)
    if isinstance(obj.get("session_records"), list):
        return Shape("F-export", _map_selling_export)
    if isinstance(obj.get("sessions"), list):
        if has("total_sessions") or has("date") or any(isinstance(s, dict) and "session_id" in s for s in obj["sessions"]):
            return Shape("G", _map_plan)
        return _skip("L-partial-sessions")
    if has("price_data"):
        return _skip("L-price-cache")
    if has("year") and has("month") and (has("month_name") or has("days_with_data")):
        return _skip("K-monthly")
    if has("date"):
        if has("pv_production") or (isinstance(obj.get("grid"), dict) and isinstance(obj.get("house_consumption"), dict)):
            return Shape("D2", _map_collector_daily_stats)
        if has("total_decisions") or has("charging_count"):
            return Shape("K-daily", _map_daily_snapshot)
        return None
    if obj and all(type(k) is str and _DATE_KEY.match(k) and type(v) in (int, float) for k, v in obj.items()):
        return _skip("L-soc-drops")
    return None


def _classify_list(items: list) -> Shape | None:
    if not items:
        return None
    first = items[0]
    if isinstance(first, list) and len(first) == 2 and type(first[0]) is str:
        return Shape("L-price-history", _map_price_history)
    if not isinstance(first, dict):
        return None
    if "month" in first and "total_sessions" in first:
        return _skip("F3")
    if "date" in first and "total_sessions" in first and "session_id" not in first:
        return _skip("F2")
    shape = classify_object(first)
    if shape is None or shape.mapper is None:
        return None
    label = {"D1": "D3", "I-row": "I", "B-session": "F1"}.get(shape.label, shape.label + "[]")
    if label == "I":
        return Shape(label, _map_flat_rows)
    return Shape(label, _list_mapper(shape.mapper))


def _map_flat_rows(items, clock):
    """An array of flat energy rows (I): column by column, or row by row when it is unusual."""
    records = energy_from_flat_rows(items, clock)
    return records if records is not None else _map_flat_items(items, clock)


def _list_mapper(item_mapper: Mapper) -> Mapper:
    """A mapper of an array whose items are all of the first item's kind."""

    def map_items(items, clock):
        """Map every item; the first failing item names the whole file."""
        out: list[Record] = []
        extend = out.extend
        for i, item in enumerate(items):
            if type(item) is not dict:
                raise ValueError(f"array item {i} is a {type(item).__name__}, not an object")
            try:
                extend((from_envelope(item[ENVELOPE_KEY]),) if ENVELOPE_KEY in item else item_mapper(item, clock))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"array item {i}: {exc}") from None
        return out

    return map_items


_map_flat_items = _list_mapper(_map_flat_row)
