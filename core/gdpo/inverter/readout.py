"""One reading laid out for a person: gdpo's converted fields beside the ``goodwe`` library's
raw values they come from, with the sign conventions and unknowns spelled out.

Used by ``gdpo inverter read``, the command run when setting up an inverter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from gdpo.inverter.snapshot import InverterSnapshot

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Row:
    """One converted field: its unit, the raw sensors it comes from, and what it means."""

    field: str
    unit: str
    sources: tuple[str, ...]
    meaning: str


ROWS = (
    Row("grid_power_w", "W", ("active_power",), "> 0 import, < 0 export (goodwe active_power > 0 is export)"),
    Row("battery_power_w", "W", ("pbattery1", "pbattery2"),
        "> 0 charging, < 0 discharging (goodwe pbattery > 0 is discharge); both batteries"),
    Row("battery_current_a", "A", ("ibattery1",), "> 0 charging (goodwe ibattery1 > 0 is discharge)"),
    Row("battery_soc_pct", "%", ("battery_soc", "battery_soh"), "unknown when the battery block is all zeros"),
    Row("battery_voltage_v", "V", ("vbattery1",), "unknown without a battery or when undefined (0)"),
    Row("battery_temp_c", "C", ("battery_temperature",), ""),
    Row("pv_power_w", "W", ("ppv",), ""),
    Row("house_consumption_w", "W", ("total_inverter_power", "active_power", "load_ptotal", "backup_ptotal"),
        "AC side: total_inverter_power - active_power (= load + backup ports)"),
    Row("house_consumption_dc_w", "W", ("house_consumption",),
        "the library's DC-side sum (ppv + pbattery1 - active_power): losses counted as load"),
    Row("inverter_loss_w", "W", ("ppv", "pbattery1", "pbattery2", "total_inverter_power"),
        "DC in (PV + battery) minus AC out: conversion losses, not house load"),
    Row("backup_load_w", "W", ("backup_ptotal",), "the backup (EPS) port's load, part of the house load"),
    Row("grid_voltage_v", "V", ("vgrid",), ""),
    Row("grid_import_total_kwh", "kWh", ("meter_e_total_imp",), "grid meter lifetime; unknown if the meter block is zeros"),
    Row("grid_export_total_kwh", "kWh", ("meter_e_total_exp",), "grid meter lifetime; unknown if the meter block is zeros"),
    Row("house_consumption_total_kwh", "kWh", ("e_load_total",), ""),
    Row("house_consumption_today_kwh", "kWh", ("e_load_day",), ""),
    Row("pv_energy_today_kwh", "kWh", ("e_day",), ""),
    Row("pv_energy_total_kwh", "kWh", ("e_total",), ""),
    Row("battery_charge_total_kwh", "kWh", ("e_bat_charge_total",), "lifetime; unknown without a battery"),
    Row("battery_discharge_total_kwh", "kWh", ("e_bat_discharge_total",), "lifetime; unknown without a battery"),
    Row("battery_charge_today_kwh", "kWh", ("e_bat_charge_day",), ""),
    Row("battery_discharge_today_kwh", "kWh", ("e_bat_discharge_day",), ""),
    Row("inverter_ac_import_today_kwh", "kWh", ("e_day_imp",), "the inverter's AC port, NOT the grid"),
    Row("inverter_ac_export_today_kwh", "kWh", ("e_day_exp",), "the inverter's AC port, NOT the grid"),
    Row("inverter_ac_import_total_kwh", "kWh", ("e_total_imp",), "the inverter's AC port, NOT the grid"),
    Row("inverter_ac_export_total_kwh", "kWh", ("e_total_exp",), "the inverter's AC port, NOT the grid"),
    Row("battery_mode", "", ("battery_mode_label",), ""),
    Row("inverter_time", "", ("timestamp",), "the inverter's own clock, local time"),
)


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _shown(value: Any, unit: str = "") -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, float):
        value = f"{value:g}"
    return f"{value} {unit}".strip()


def _direction(row: Row, value: Any) -> str:
    if not isinstance(value, (int, float)) or value == 0:
        return ""
    if row.field == "grid_power_w":
        return " (import)" if value > 0 else " (export)"
    if row.field in ("battery_power_w", "battery_current_a"):
        return " (charging)" if value > 0 else " (discharging)"
    return ""


def readout(snapshot: InverterSnapshot, *, host: str, port: int, family: str, model: str | None,
            serial: str | None) -> dict[str, Any]:
    """The reading as a JSON-ready dict: inverter, ``fields`` (converted value, raw sources,
    meaning; None is unknown) and every raw value the library gave."""
    raw: Mapping[str, Any] = snapshot.raw
    values = {**snapshot.energy_fields(), **snapshot.extras()}
    return {
        "inverter": {"host": host, "port": port, "family": family, "model": model, "serial": serial},
        "ts": snapshot.ts.isoformat(),
        "signs": "gdpo: grid > 0 import, battery > 0 charging; goodwe: active_power > 0 export, "
                 "pbattery > 0 discharge",
        "fields": [{"field": row.field, "value": _json_value(values.get(row.field)), "unit": row.unit,
                    "raw": {key: _json_value(raw.get(key)) for key in row.sources if key in raw},
                    "meaning": row.meaning} for row in ROWS],
        "raw": {key: _json_value(value) for key, value in sorted(raw.items())},
    }


def format_readout(report: Mapping[str, Any]) -> str:
    """The reading as text: one line per converted field, its raw sources beside it."""
    inv = report["inverter"]
    lines = [f"GoodWe {inv['model'] or '?'} (S/N {inv['serial'] or '?'}) at {inv['host']}:{inv['port']}, "
             f"family {inv['family']}, read at {report['ts']}",
             f"signs: {report['signs']}; '{UNKNOWN}' = the inverter gave no usable value (never 0)", ""]
    units = {row.field: row for row in ROWS}
    width = max(len(row.field) for row in ROWS)
    for item in report["fields"]:
        row = units[item["field"]]
        value = _shown(item["value"], row.unit) + _direction(row, item["value"])
        sources = ", ".join(f"{k}={_shown(v)}" for k, v in item["raw"].items()) or "-"
        meaning = f"  [{row.meaning}]" if row.meaning else ""
        lines.append(f"{row.field:<{width}}  {value:<22}  <- {sources}{meaning}")
    lines += ["", "raw values from the goodwe library:"]
    lines += [f"  {key} = {_shown(value)}" for key, value in report["raw"].items()]
    return "\n".join(lines)
