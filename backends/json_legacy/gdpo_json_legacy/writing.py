"""Writing records as a legacy tree in the composite-era layout (``gdpo export``, json_legacy writes).

Where each kind goes (paths relative to the tree root):

=========================  ====================================================================
energy_data                ``out/energy_data/energy_data_YYYY-MM-DD.json`` (array of flat rows)
system_state               ``out/coordinator_state_YYYYMMDD.json`` (NDJSON)
coordinator_decisions      ``out/charging_decision_YYYYMMDD.json`` (NDJSON, charging and selling)
charging_sessions          ``out/multi_session_data/daily_plan_YYYYMMDD.json`` (plan sessions);
                           schedule windows back to ``out/charging_schedule_YYYY-MM-DD.json``
battery_selling_sessions   ``out/energy_data/battery_selling_decision_YYYYMMDD_HHMMSS.json``
daily_stats                ``out/daily_snapshots/snapshot_YYYYMMDD.json`` (collector stats back to
                           ``out/energy_data/daily_stats_YYYYMMDD.json``)
price_forecasts            ``data/price_history.json`` (legacy price-history pairs); others in
                           ``out/gdpo_records/price_forecasts_YYYYMMDD.json``
pv_forecasts               ``out/energy_data/pv_forecast_YYYYMMDD_HHMMSS.json`` per ``made_at``
=========================  ====================================================================

Dates in names are local (Europe/Warsaw) as the legacy writers used them; timestamps inside
are naive local time. Every file is rendered, read back through the importer and compared:
a record that does not come back identical gets an exact ``_gdpo`` envelope beside its legacy
keys (see :mod:`gdpo_json_legacy.exact`), so export and re-import are lossless.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

import msgspec

from gdpo.storage import Record, StorageError, jsontext
from gdpo.storage.durable import atomic_write as durable_write

from gdpo_json_legacy.exact import ENVELOPE_KEY, envelope
from gdpo_json_legacy.localtime import local_iso, local_to_utc, utc_to_local_naive
from gdpo_json_legacy.mapping import (
    FLAT_ENERGY_KEYS,
    PAYLOAD_KEY,
    PLAN_META_KEY,
    PRICE_HISTORY_SOURCE,
    PV_FILE_META_KEY,
    PV_FORECAST_SOURCE,
    QUARTER,
    SCHEDULE_WINDOW_PREFIX,
)
from gdpo_json_legacy.reading import read_legacy_bytes
from gdpo_json_legacy.tree import TEMP_SUFFIX

GDPO_RECORDS_DIR = "out/gdpo_records"
_LEGACY_ENERGY_KEYS = ("battery_soc", "pv_power", "grid_power", "house_consumption", "battery_power",
                       "grid_voltage", "battery_voltage", "battery_current", "battery_temperature", "price_pln")


def _local_day(ts: _dt.datetime) -> _dt.date:
    return utc_to_local_naive(ts).date()


# --------------------------------------------------------------------------- target files


def target_file(record: Record) -> str:
    """The file (relative to the tree root) that holds ``record`` in the composite-era layout."""
    kind = record.KIND
    if kind == "energy_data":
        return f"out/energy_data/energy_data_{_local_day(record.ts):%Y-%m-%d}.json"
    if kind == "system_state":
        return f"out/coordinator_state_{_local_day(record.ts):%Y%m%d}.json"
    if kind == "coordinator_decisions":
        return f"out/charging_decision_{_local_day(record.ts):%Y%m%d}.json"
    if kind == "charging_sessions":
        payload = record.payload
        if record.session_id.startswith(SCHEDULE_WINDOW_PREFIX) and isinstance(payload.get("date"), str):
            return f"out/charging_schedule_{payload['date']}.json"
        return f"out/multi_session_data/daily_plan_{_local_day(record.start_ts):%Y%m%d}.json"
    if kind == "battery_selling_sessions":
        return f"out/energy_data/battery_selling_decision_{utc_to_local_naive(record.start_ts):%Y%m%d_%H%M%S}.json"
    if kind == "daily_stats":
        if "pv_production" in record.payload:
            return f"out/energy_data/daily_stats_{record.date:%Y%m%d}.json"
        return f"out/daily_snapshots/snapshot_{record.date:%Y%m%d}.json"
    if kind == "price_forecasts":
        if _is_price_pair(record):
            return "data/price_history.json"
        return f"{GDPO_RECORDS_DIR}/price_forecasts_{_local_day(record.period_start):%Y%m%d}.json"
    if kind == "pv_forecasts":
        if record.made_at is not None:
            return f"out/energy_data/pv_forecast_{utc_to_local_naive(record.made_at):%Y%m%d_%H%M%S}.json"
        return f"{GDPO_RECORDS_DIR}/pv_forecasts_{_local_day(record.period_start):%Y%m%d}.json"
    raise StorageError(f"no legacy layout for record kind {kind!r}")


_LAYOUT_NAMES = re.compile(
    r"^(out/energy_data/energy_data_\d{4}-\d{2}-\d{2}\.json|out/coordinator_state_\d{8}\.json"
    r"|out/charging_decision_\d{8}\.json|out/multi_session_data/daily_plan_\d{8}\.json"
    r"|out/charging_schedule_\d{4}-\d{2}-\d{2}\.json|out/energy_data/battery_selling_decision_\d{8}_\d{6}\.json"
    r"|out/daily_snapshots/snapshot_\d{8}\.json|out/energy_data/daily_stats_\d{8}\.json|data/price_history\.json"
    r"|out/energy_data/pv_forecast_\d{8}_\d{6}\.json|out/gdpo_records/[a-z_]+_\d{8}\.json)$")


def is_layout_file(rel: str) -> bool:
    """True for a path of the composite-era layout (a file gdpo export writes)."""
    return _LAYOUT_NAMES.match(rel) is not None


def read_order(rels: Iterable[str]) -> list[str]:
    """The order in which files of a tree are read: other legacy files first, then the
    composite-era layout files, so that what gdpo last wrote wins over an older copy of a record."""
    rels = sorted(rels)
    return [r for r in rels if not is_layout_file(r)] + [r for r in rels if is_layout_file(r)]


def _is_price_pair(r: Record) -> bool:
    end = r.period_start + QUARTER
    return (r.source == PRICE_HISTORY_SOURCE and r.period_minutes == 15 and r.price_kind == "market"
            and r.business_date is None and r.published_at is None and r.fetched_at is None and not r.payload
            and local_to_utc(utc_to_local_naive(end)) == end)


# --------------------------------------------------------------------------- legacy objects


def _merge_payload(obj: dict, payload: dict, reserved: Iterable[str]) -> dict:
    """Spread ``payload`` into ``obj``, or nest it under ``payload`` when a key would collide."""
    if not payload:
        return obj
    reserved = set(reserved) | set(obj) | {PAYLOAD_KEY, ENVELOPE_KEY}
    if any(k in reserved for k in payload):
        obj[PAYLOAD_KEY] = payload
    else:
        obj.update(payload)
    return obj


def energy_row(r: Record) -> dict:
    """A flat composite-era energy row (GoodWe signs, local timestamp)."""
    row: dict[str, Any] = {"timestamp": local_iso(r.ts)}
    for key, (column, signed) in FLAT_ENERGY_KEYS.items():
        value = getattr(r, column)
        if value is None and key not in _LEGACY_ENERGY_KEYS:
            continue
        row[key] = -value if signed and value else value
    return _merge_payload(row, r.payload, FLAT_ENERGY_KEYS)


def state_line(r: Record) -> dict:
    """A coordinator state object: the original one when the payload is it."""
    p = r.payload
    if "timestamp" in p and "state" in p:
        return dict(p)
    line = {"timestamp": local_iso(r.ts), "state": r.state, "uptime_seconds": r.uptime_s}
    if r.metrics is not None:
        line["performance_metrics"] = r.metrics
    if r.last_error is not None:
        line["last_error"] = r.last_error
    return _merge_payload(line, p, ())


def decision_line(r: Record) -> dict:
    """A coordinator decision object: the original one when the payload is it."""
    p = r.payload
    if "timestamp" in p and ("action" in p or "decision" in p):
        return dict(p)
    line: dict[str, Any] = {"timestamp": local_iso(r.ts), "action": r.action, "reason": r.reason,
                            "confidence": r.confidence, "battery_soc": r.battery_soc_pct,
                            "current_price": r.price_pln_kwh, "energy_kwh": r.energy_kwh,
                            "estimated_cost_pln": r.estimated_cost_pln,
                            "estimated_savings_pln": r.estimated_savings_pln}
    if r.decision_type == "selling":
        line["expected_revenue_pln"] = r.expected_revenue_pln
        line["type"] = "selling"
    else:
        line["decision_type"] = "charging"
    return _merge_payload(line, p, ())


def plan_session_item(r: Record) -> dict:
    """One ``sessions`` item of a daily plan (``str(datetime)`` spellings, as the plan writer)."""
    item: dict[str, Any] = {"session_id": r.session_id, "start_time": local_iso(r.start_ts, " "),
                            "end_time": local_iso(r.end_ts, " ") if r.end_ts else None,
                            "target_energy_kwh": r.planned_energy_kwh, "status": r.status,
                            "actual_energy_kwh": r.actual_energy_kwh, "actual_cost_pln": r.cost_pln}
    if r.target_soc_pct is not None:
        item["target_soc"] = r.target_soc_pct
    if r.avg_price_pln_kwh is not None:
        item["avg_price"] = r.avg_price_pln_kwh
    payload = {k: v for k, v in r.payload.items() if k != PLAN_META_KEY}
    return _merge_payload(item, payload, ())


def schedule_window(r: Record) -> dict:
    """One ``charging_windows`` item of a charging schedule (prices back in PLN/MWh)."""
    window: dict[str, Any] = {"start_time": local_iso(r.start_ts),
                              "end_time": local_iso(r.end_ts) if r.end_ts else None}
    extra = {k: v for k, v in r.payload.items() if k not in ("analysis", "date", "schedule")}
    if "avg_price" not in extra and r.avg_price_pln_kwh is not None:
        extra["avg_price"] = r.avg_price_pln_kwh * 1000
    window.update(extra)
    return window


def selling_session_obj(r: Record) -> dict:
    """A composite-era selling session object."""
    obj = {"session_id": r.session_id, "start_time": local_iso(r.start_ts),
           "end_time": local_iso(r.end_ts) if r.end_ts else None, "start_soc": r.start_soc_pct,
           "end_soc": r.end_soc_pct, "energy_sold_kwh": r.energy_sold_kwh, "revenue_pln": r.revenue_pln,
           "avg_price": r.avg_price_pln_kwh, "selling_power_w": r.selling_power_w, "status": r.status}
    return _merge_payload(obj, r.payload, ())


def daily_stats_obj(r: Record) -> dict:
    """A daily snapshot (or the collector's daily stats) object."""
    p = r.payload
    if "date" in p and ("pv_production" in p or "total_decisions" in p):
        return dict(p)
    obj: dict[str, Any] = {"date": r.date.isoformat(), "total_energy_kwh": r.grid_charge_kwh,
                           "total_cost_pln": r.grid_charge_cost_pln, "selling_revenue_pln": r.selling_revenue_pln,
                           "price_stats": {"avg": r.avg_price_pln_kwh}, "total_decisions": None}
    if r.total_grid_import_kwh is not None:
        obj["grid_import_total_kwh"] = r.total_grid_import_kwh
    return _merge_payload(obj, p, ())


def pv_item(r: Record) -> dict:
    """One ``forecasts`` item of a PV forecast file."""
    item = {k: v for k, v in r.payload.items() if k != PV_FILE_META_KEY}
    item.setdefault("timestamp", utc_to_local_naive(r.period_start).isoformat(timespec="minutes"))
    if r.source != PV_FORECAST_SOURCE:
        item.setdefault("method", r.source)
    item["forecasted_power_w"] = r.power_w
    item["confidence"] = r.confidence
    return item


# --------------------------------------------------------------------------- whole files

Dump = Callable[[Any], str]


# msgspec writes the layout json.dumps wrote (indent 2; NDJSON with ", " and ": "), in UTF-8 and
# with exponents as 1e16; the strict encoder refuses NaN, infinity and non-JSON values as before.
_format = msgspec.json.format


def _pretty(doc: Any) -> str:
    return _format(jsontext.dumps_bytes(doc), indent=2).decode("utf-8") + "\n"


def _ndjson(lines: list[dict]) -> str:
    return "".join(_format(jsontext.dumps_bytes(line), indent=0).decode("utf-8") + "\n" for line in lines)


def _with_envelope(obj: dict, r: Record, exact: bool) -> dict:
    if exact:
        obj = dict(obj)
        obj[ENVELOPE_KEY] = envelope(r)
    return obj


def _render(rel: str, kind: str, records: list[Record], exact: set) -> str:
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith(GDPO_RECORDS_DIR + "/"):
        return _ndjson([{ENVELOPE_KEY: envelope(r)} for r in records])
    if kind == "energy_data":
        return _pretty([_with_envelope(energy_row(r), r, r.key in exact) for r in records])
    if kind == "system_state":
        return _ndjson([_with_envelope(state_line(r), r, r.key in exact) for r in records])
    if kind == "coordinator_decisions":
        return _ndjson([_with_envelope(decision_line(r), r, r.key in exact) for r in records])
    if kind == "charging_sessions" and name.startswith("charging_schedule_"):
        first = records[0].payload
        doc = {"date": first.get("date"), "analysis": first.get("analysis"), **(first.get("schedule") or {}),
               "charging_windows": [_with_envelope(schedule_window(r), r, r.key in exact) for r in records]}
        return _pretty(doc)
    if kind == "charging_sessions":
        plan = records[0].payload.get(PLAN_META_KEY)
        if not isinstance(plan, dict):
            plan = _plan_meta(records)
        items = [_with_envelope(plan_session_item(r), r, r.key in exact) for r in records]
        return _pretty({**plan, "sessions": items})
    if kind == "battery_selling_sessions":
        objs = [_with_envelope(selling_session_obj(r), r, r.key in exact) for r in records]
        return _pretty(objs[0] if len(objs) == 1 else objs)
    if kind == "daily_stats":
        (r,) = records
        return _pretty(_with_envelope(daily_stats_obj(r), r, r.key in exact))
    if kind == "price_forecasts":
        return _pretty([[local_iso(r.period_start + QUARTER), r.price_pln_kwh] for r in records])
    if kind == "pv_forecasts":
        first = records[0]
        meta = first.payload.get(PV_FILE_META_KEY)
        doc = {"timestamp": local_iso(first.made_at), **(meta if isinstance(meta, dict) else {}),
               "forecasts": [_with_envelope(pv_item(r), r, r.key in exact) for r in records]}
        return _pretty(doc)
    raise StorageError(f"no legacy layout for record kind {kind!r}")


def _plan_meta(records: list[Record]) -> dict:
    day = _local_day(records[0].start_ts)
    hours = [(r.end_ts - r.start_ts).total_seconds() / 3600 for r in records if r.end_ts]
    return {"date": day.isoformat(), "total_sessions": len(records), "total_duration_hours": sum(hours),
            "total_estimated_energy_kwh": sum(r.planned_energy_kwh or 0.0 for r in records),
            "created_at": local_iso(min(r.start_ts for r in records)), "status": "active"}


def render_file(rel: str, kind: str, records: Iterable[Record]) -> bytes:
    """The content of legacy file ``rel`` holding ``records`` of ``kind``, verified lossless.

    The rendering is read back through the importer; records that do not come back equal are
    rendered again with an exact ``_gdpo`` envelope.
    """
    return render_file_read_back(rel, kind, records)[0]


def render_file_read_back(rel: str, kind: str, records: Iterable[Record]) -> tuple[bytes, list[Record]]:
    """Like :func:`render_file`, with every record (of any kind) the importer reads from it."""
    by_key = {r.key: r for r in records}
    ordered = sorted(by_key.values(), key=lambda r: (r.time, r.key))
    exact: set = set()
    for _ in range(2):
        text = _render(rel, kind, ordered, exact)
        outcome = read_legacy_bytes(text.encode("utf-8"), rel)
        back = {r.key: r for r in outcome.records if r.KIND == kind} if outcome.disposition == "import" else {}
        wrong = {key for key, r in by_key.items() if back.get(key) != r}
        if not wrong - exact:
            if not wrong:
                return text.encode("utf-8"), outcome.records
            break
        exact |= wrong
    raise StorageError(f"{rel}: cannot write {len(wrong)} {kind} record(s) losslessly")


def group_by_file(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Records grouped by their target file."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        groups[target_file(r)].append(r)
    return groups


# --------------------------------------------------------------------------- atomic files


def atomic_write(path: Path, data: bytes, *, file_mode: int = 0o600, dir_mode: int = 0o700) -> None:
    """Write ``data`` to ``path`` atomically (``gdpo.storage.durable.atomic_write``), with the
    temp-file suffix the tree listing leaves out."""
    durable_write(path, data, file_mode=file_mode, dir_mode=dir_mode, temp_suffix=TEMP_SUFFIX)
