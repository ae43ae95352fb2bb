"""One inverter reading in gdpo's units and signs, converted once from the ``goodwe`` sensors.

GoodWe reports ``active_power`` > 0 as EXPORT and ``pbattery1`` > 0 as DISCHARGE; gdpo stores
grid power > 0 as IMPORT and battery power > 0 as CHARGING. A value the library did not give
(missing block, undefined register) is None here, never 0.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

ENERGY_FIELDS = ("battery_soc_pct", "battery_power_w", "battery_voltage_v", "battery_current_a", "battery_temp_c",
                 "pv_power_w", "grid_power_w", "grid_voltage_v", "house_consumption_w", "grid_import_total_kwh",
                 "grid_export_total_kwh", "pv_energy_today_kwh", "house_consumption_total_kwh")


@dataclass(frozen=True)
class InverterSnapshot:
    """A reading at ``ts`` (UTC). Powers in W, energies in kWh; gdpo signs."""

    ts: dt.datetime
    battery_soc_pct: float | None = None
    battery_power_w: float | None = None        # > 0 charging
    battery_voltage_v: float | None = None
    battery_current_a: float | None = None      # > 0 charging
    battery_temp_c: float | None = None
    pv_power_w: float | None = None
    grid_power_w: float | None = None           # > 0 import
    grid_voltage_v: float | None = None
    house_consumption_w: float | None = None
    grid_import_total_kwh: float | None = None
    grid_export_total_kwh: float | None = None
    pv_energy_today_kwh: float | None = None
    house_consumption_total_kwh: float | None = None
    grid_import_today_kwh: float | None = None
    grid_export_today_kwh: float | None = None
    house_consumption_today_kwh: float | None = None
    battery_charge_today_kwh: float | None = None
    battery_discharge_today_kwh: float | None = None
    pv_energy_total_kwh: float | None = None
    battery_mode: str | None = None
    inverter_time: str | None = None            # the inverter's own clock (local, as it reports it)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def energy_fields(self) -> dict[str, Any]:
        """The ``energy_data`` record fields this reading provides (``ts`` included)."""
        return {"ts": self.ts, **{name: getattr(self, name) for name in ENERGY_FIELDS}}

    def extras(self) -> dict[str, Any]:
        """Readings without an ``energy_data`` column (daily counters, modes), JSON-ready."""
        data = asdict(self)
        for name in ("ts", "raw", *ENERGY_FIELDS):
            data.pop(name, None)
        return data


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _negated(value: float | None) -> float | None:
    return None if value is None else (-value or 0.0)


def snapshot_from_sensors(data: Mapping[str, Any], ts: dt.datetime) -> InverterSnapshot:
    """Convert a ``read_runtime_data()`` dict of an ET into an :class:`InverterSnapshot`."""
    has_battery = data.get("battery_mode") not in (None, 0)
    voltage = _number(data, "vbattery1")
    if voltage == 0.0 and has_battery:
        voltage = None   # the library maps an undefined (0xFFFF) voltage register to 0
    grid = _number(data, "active_power")
    if grid is None:
        grid = _number(data, "meter_active_power_total")
    inverter_time = data.get("timestamp")
    return InverterSnapshot(
        ts=ts,
        battery_soc_pct=_number(data, "battery_soc"),
        battery_power_w=_negated(_number(data, "pbattery1")),
        battery_voltage_v=voltage,
        battery_current_a=_negated(_number(data, "ibattery1")),
        battery_temp_c=_number(data, "battery_temperature"),
        pv_power_w=_number(data, "ppv"),
        grid_power_w=_negated(grid),
        grid_voltage_v=_number(data, "vgrid"),
        house_consumption_w=_number(data, "house_consumption"),
        grid_import_total_kwh=_number(data, "meter_e_total_imp"),
        grid_export_total_kwh=_number(data, "meter_e_total_exp"),
        pv_energy_today_kwh=_number(data, "e_day"),
        house_consumption_total_kwh=_number(data, "e_load_total"),
        grid_import_today_kwh=_number(data, "e_day_imp"),
        grid_export_today_kwh=_number(data, "e_day_exp"),
        house_consumption_today_kwh=_number(data, "e_load_day"),
        battery_charge_today_kwh=_number(data, "e_bat_charge_day"),
        battery_discharge_today_kwh=_number(data, "e_bat_discharge_day"),
        pv_energy_total_kwh=_number(data, "e_total"),
        battery_mode=data.get("battery_mode_label") if has_battery else None,
        inverter_time=inverter_time.isoformat() if isinstance(inverter_time, dt.datetime) else None,
        raw=dict(data),
    )
