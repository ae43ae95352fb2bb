"""One inverter reading in gdpo's units and signs, converted once from the ``goodwe`` sensors.

GoodWe reports ``active_power`` > 0 as EXPORT and ``pbattery1`` > 0 as DISCHARGE; gdpo stores
grid power > 0 as IMPORT and battery power > 0 as CHARGING. A value the library did not give
(missing block, undefined register) is None here, never 0.

What real ET captures show, and how this conversion follows it:

* House load is the AC side, ``total_inverter_power - active_power`` (on real captures it
  equals the load and backup ports); the library's ``house_consumption`` is a DC-side sum
  (PV + battery - grid) that counts the inverter's conversion losses as load. The DC-side
  figure and the losses ride along in the extras (``house_consumption_dc_w``,
  ``inverter_loss_w``), and so does the backup (EPS) port's load (``backup_load_w``).
* Grid energy comes only from the meter's lifetime counters (``meter_e_total_imp`` /
  ``meter_e_total_exp``). ``e_day_imp`` / ``e_day_exp`` / ``e_total_imp`` / ``e_total_exp``
  count the inverter's own AC port, not the grid; they are kept as ``inverter_ac_*``.
  Counters that both read 0 are a meter block without data: unknown (None), not 0 kWh.
* A battery block of zeros (SOC and state of health both 0: no BMS data) leaves SOC and
  temperature unknown; without a battery, its voltage and current are unknown too.
* Battery energy counters are the lifetime ones (``e_bat_charge_total`` /
  ``e_bat_discharge_total``), the day counters beside them; a second battery's power
  (``pbattery2``) is added to the first.
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
    battery_power_w: float | None = None        # > 0 charging (all batteries)
    battery_voltage_v: float | None = None
    battery_current_a: float | None = None      # > 0 charging (battery 1)
    battery_temp_c: float | None = None
    pv_power_w: float | None = None
    grid_power_w: float | None = None           # > 0 import
    grid_voltage_v: float | None = None
    house_consumption_w: float | None = None    # AC side: what the loads (load and backup ports) take
    grid_import_total_kwh: float | None = None  # the grid meter's lifetime counters
    grid_export_total_kwh: float | None = None
    pv_energy_today_kwh: float | None = None
    house_consumption_total_kwh: float | None = None
    house_consumption_dc_w: float | None = None  # the library's DC-side sum (losses included)
    inverter_loss_w: float | None = None         # DC in (PV + battery) minus AC out
    backup_load_w: float | None = None           # the backup (EPS) port's load
    battery2_power_w: float | None = None        # > 0 charging; included in battery_power_w
    house_consumption_today_kwh: float | None = None
    battery_charge_total_kwh: float | None = None
    battery_discharge_total_kwh: float | None = None
    battery_charge_today_kwh: float | None = None
    battery_discharge_today_kwh: float | None = None
    pv_energy_total_kwh: float | None = None
    inverter_ac_import_today_kwh: float | None = None   # the inverter's AC port, NOT the grid
    inverter_ac_export_today_kwh: float | None = None
    inverter_ac_import_total_kwh: float | None = None
    inverter_ac_export_total_kwh: float | None = None
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


def _sum(*values: float | None) -> float | None:
    """The sum of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    return float(sum(known)) if known else None


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (a - b) or 0.0


def meter_counters_kwh(data: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """The grid meter's lifetime (import, export) counters, kWh; both None when the meter block
    holds no data (both counters 0, as an inverter without meter data answers)."""
    imp, exp = _number(data, "meter_e_total_imp"), _number(data, "meter_e_total_exp")
    if not imp and not exp:
        return None, None
    return imp, exp


def has_battery(data: Mapping[str, Any]) -> bool:
    """Whether the reading says a battery is connected (battery 1 or 2 mode not 0)."""
    return data.get("battery_mode") not in (None, 0) or data.get("battery2_mode") not in (None, 0)


def battery_block_empty(data: Mapping[str, Any]) -> bool:
    """Whether the battery block (37000) holds no BMS data: SOC and state of health both 0."""
    return _number(data, "battery_soc") == 0.0 and _number(data, "battery_soh") == 0.0


def snapshot_from_sensors(data: Mapping[str, Any], ts: dt.datetime) -> InverterSnapshot:
    """Convert a ``read_runtime_data()`` dict of an ET into an :class:`InverterSnapshot`."""
    battery = has_battery(data)
    voltage = _number(data, "vbattery1") if battery else None
    if voltage == 0.0:
        voltage = None   # the library maps an undefined (0xFFFF) voltage register to 0
    bms = not battery_block_empty(data)
    grid = _number(data, "active_power")   # GoodWe: > 0 export
    if grid is None:
        grid = _number(data, "meter_active_power_total")
    battery1, battery2 = _number(data, "pbattery1"), _number(data, "pbattery2")   # GoodWe: > 0 discharge
    battery_total = _sum(battery1, battery2) if battery1 is not None else None
    pv = _number(data, "ppv")
    ac_out = _number(data, "total_inverter_power")
    dc_in = _sum(pv, battery_total) if pv is not None and battery_total is not None else None
    grid_import, grid_export = meter_counters_kwh(data)
    inverter_time = data.get("timestamp")

    def bat(key: str) -> float | None:
        return _number(data, key) if battery else None

    return InverterSnapshot(
        ts=ts,
        battery_soc_pct=_number(data, "battery_soc") if bms else None,
        battery_power_w=_negated(battery_total),
        battery_voltage_v=voltage,
        battery_current_a=_negated(_number(data, "ibattery1")) if battery else None,
        battery_temp_c=_number(data, "battery_temperature") if bms else None,
        pv_power_w=pv,
        grid_power_w=_negated(grid),
        grid_voltage_v=_number(data, "vgrid"),
        house_consumption_w=_difference(ac_out, grid),
        grid_import_total_kwh=grid_import,
        grid_export_total_kwh=grid_export,
        pv_energy_today_kwh=_number(data, "e_day"),
        house_consumption_total_kwh=_number(data, "e_load_total"),
        house_consumption_dc_w=_number(data, "house_consumption"),
        inverter_loss_w=_difference(dc_in, ac_out),
        backup_load_w=_number(data, "backup_ptotal"),
        battery2_power_w=_negated(battery2),
        house_consumption_today_kwh=_number(data, "e_load_day"),
        battery_charge_total_kwh=bat("e_bat_charge_total"),
        battery_discharge_total_kwh=bat("e_bat_discharge_total"),
        battery_charge_today_kwh=bat("e_bat_charge_day"),
        battery_discharge_today_kwh=bat("e_bat_discharge_day"),
        pv_energy_total_kwh=_number(data, "e_total"),
        inverter_ac_import_today_kwh=_number(data, "e_day_imp"),
        inverter_ac_export_today_kwh=_number(data, "e_day_exp"),
        inverter_ac_import_total_kwh=_number(data, "e_total_imp"),
        inverter_ac_export_total_kwh=_number(data, "e_total_exp"),
        battery_mode=data.get("battery_mode_label") if battery else None,
        inverter_time=inverter_time.isoformat() if isinstance(inverter_time, dt.datetime) else None,
        raw=dict(data),
    )
