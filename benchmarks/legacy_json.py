"""The old system's JSON-file storage, as it was: the baseline of benchmarks/run_all.py.

The old coordinator wrote every decision to its own file with ``json.dump(obj, f, indent=2)``
straight into the target (``out/energy_data/charging_decision_YYYYMMDD_HHMMSS.json``, local
time in the name and naive local timestamps inside), and the collector wrote every sample as
``out/energy_data/current_data_YYYYMMDD_HHMMSS.json``. Readers found records by globbing the
directory (by day in the file name) and ``json.load``-ing every match; the dashboard took the
newest file by modification time. See LEGACY_FORMATS.md sections 2.1 and 2.5.

The dictionaries written here follow those shapes, GoodWe's sign convention included, so the
files are also a realistic input for ``gdpo migrate``.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from gdpo.storage import CoordinatorDecision, EnergyData

WARSAW = ZoneInfo("Europe/Warsaw")
DECISION_PREFIX = "charging_decision_"
SAMPLE_PREFIX = "current_data_"


def _local(ts: dt.datetime) -> dt.datetime:
    return ts.astimezone(WARSAW).replace(tzinfo=None)


def decision_to_legacy(d: CoordinatorDecision) -> dict[str, Any]:
    """A charging decision as the old coordinator wrote it (section 2.1, pre-database era)."""
    extra = d.payload or {}
    return {
        "timestamp": _local(d.ts).isoformat(),
        "action": d.action,
        "source": extra.get("source", "grid"),
        "duration": extra.get("duration", 0),
        "energy_kwh": d.energy_kwh,
        "estimated_cost_pln": d.estimated_cost_pln,
        "estimated_savings_pln": d.estimated_savings_pln,
        "confidence": d.confidence,
        "reason": d.reason,
        "priority": extra.get("priority", "medium"),
        "battery_soc": d.battery_soc_pct,
        "pv_power": extra.get("pv_power", 0),
        "house_consumption": extra.get("house_consumption", 0),
        "current_price": d.price_pln_kwh,
        "cheapest_price": extra.get("cheapest_price"),
        "cheapest_hour": extra.get("cheapest_hour"),
    }


def sample_to_legacy(e: EnergyData) -> dict[str, Any]:
    """An inverter sample as the old collector dumped it (section 2.5, D1; GoodWe signs:
    grid ``power_w`` > 0 is export, battery ``power_w`` > 0 is discharge)."""
    local = _local(e.ts)
    grid_w = -(e.grid_power_w or 0.0)
    battery_w = -(e.battery_power_w or 0.0)
    return {
        "timestamp": local.isoformat(),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M:%S"),
        "battery": {"soc_percent": e.battery_soc_pct, "voltage": e.battery_voltage_v, "current": e.battery_current_a,
                    "power_w": battery_w, "power_kw": battery_w / 1000, "temperature": e.battery_temp_c,
                    "charging_status": battery_w < 0, "fast_charging_enabled": False},
        "photovoltaic": {"current_power_w": e.pv_power_w, "current_power_kw": (e.pv_power_w or 0) / 1000,
                         "daily_production_kwh": e.pv_energy_today_kwh, "efficiency_percent": 0.0},
        "grid": {"power_w": grid_w, "power_kw": grid_w / 1000, "voltage": e.grid_voltage_v,
                 "flow_direction": "Export" if grid_w > 0 else "Import",
                 "total_exported_kwh": e.grid_export_total_kwh, "total_imported_kwh": e.grid_import_total_kwh},
        "house_consumption": {"current_power_w": e.house_consumption_w,
                              "current_power_kw": (e.house_consumption_w or 0) / 1000,
                              "total_consumption_kwh": e.house_consumption_total_kwh},
        "system": {"inverter_model": "GW10KN-ET", "connection_status": "Connected",
                   "last_update": local.isoformat()},
    }


def file_name(prefix: str, ts: dt.datetime) -> str:
    """``<prefix>YYYYMMDD_HHMMSS.json`` in local time, as the old writers named files."""
    return f"{prefix}{_local(ts):%Y%m%d_%H%M%S}.json"


def write_decisions(directory: Path, decisions: Iterable[CoordinatorDecision]) -> int:
    """One file per decision, ``json.dump(indent=2)`` into the target (ASCII escapes, as upstream)."""
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for d in decisions:
        with open(directory / file_name(DECISION_PREFIX, d.ts), "w") as f:
            json.dump(decision_to_legacy(d), f, indent=2)
        n += 1
    return n


def write_samples(directory: Path, samples: Iterable[EnergyData]) -> int:
    """One file per sample, ``json.dump(indent=2, ensure_ascii=False)`` as the collector did."""
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for e in samples:
        with open(directory / file_name(SAMPLE_PREFIX, e.ts), "w", encoding="utf-8") as f:
            json.dump(sample_to_legacy(e), f, indent=2, ensure_ascii=False)
        n += 1
    return n


def scan(directory: Path, prefix: str, day: dt.date | None = None) -> list[dict[str, Any]]:
    """The old readers: glob the files (of one local day, or all) and ``json.load`` each."""
    pattern = f"{prefix}{day:%Y%m%d}_*.json" if day else f"{prefix}*.json"
    out = []
    for path in sorted(glob.glob(str(directory / pattern))):
        with open(path) as f:
            out.append(json.load(f))
    return out


def newest(directory: Path, prefix: str) -> dict[str, Any] | None:
    """The old dashboard's "current" record: the newest file by modification time."""
    paths = glob.glob(str(directory / f"{prefix}*.json"))
    if not paths:
        return None
    with open(max(paths, key=os.path.getmtime)) as f:
        return json.load(f)
