"""Writing the plant state into the ET's runtime (35100), meter (36000), battery (37000),
second battery (35262, 39000) and MPPT (35301) blocks, encoded as ``goodwe/et.py`` decodes them.

What each register means follows real ET captures (``tests/inverter/captures``):

* ``total_inverter_power`` (35138) is the inverter's AC port, the DC side minus the losses;
  ``active_power`` (35140) the grid, so ``total_inverter_power - active_power`` is the house
  load, which equals ``load_ptotal + backup_ptotal`` (the load and backup ports) to the watt.
  Powers are rounded to whole watts first and the grid figure is derived from the rounded ones.
* ``e_day_exp``/``e_total_exp`` and ``e_day_imp``/``e_total_imp`` count the inverter's AC port
  (out of it / into it); the grid's energy is only in the meter block (float32 Wh at 36015 and
  36017, and the extended block's 64-bit counters at 36092-36123).
* The meter sees the grid per phase: the inverter's balanced output against the unbalanced
  loads, with the loads' reactive power; its power factor is P/S, signed like P.
* Without meter data (``PlantConfig.has_meter`` False) the meter block reads all zeros.

GoodWe signs: battery > 0 discharging, grid and AC port > 0 exporting.
"""

from __future__ import annotations

import datetime as dt
import math

from gdpo.inverter.simulator import registers as r
from gdpo.inverter.simulator.physics import PlantConfig, PlantState

PV_VOLTAGE_V = 380.0
FREQUENCY_CHZ = 5000   # 50.00 Hz
BUS_VOLTAGE_DV = 8036  # 803.6 V, as the GW10K-ET capture
PHASE_VOLTAGE_OFFSETS_V = (0.0, 2.2, 1.6)   # the three phases are never exactly alike
LOAD_PHASE_SHARES = (0.42, 0.23, 0.35)      # the load port's circuits, per phase
BACKUP_PHASE_SHARES = (0.55, 0.35, 0.10)    # the backup port's circuits, per phase
METER_BLOCK = 125


def split(total: int, shares: tuple[float, ...] = (1, 1, 1)) -> list[int]:
    """Split a whole number by ``shares`` so that the parts add up exactly."""
    weight = sum(shares)
    parts = [int(round(total * s / weight)) for s in shares[:-1]]
    return parts + [total - sum(parts)]


def thirds(total: int) -> list[int]:
    """Split a whole number over three phases equally, the parts adding up exactly."""
    return split(total)


def reactive_var(active_w: float, power_factor: float) -> float:
    """The (inductive) reactive power of a load of ``active_w`` at ``power_factor``."""
    return abs(active_w) * math.tan(math.acos(power_factor))


def inverter_reactive_var(ac_w: float) -> int:
    """What the inverter's output filter gives at power factor 1.00: a few tens of var."""
    return int(round(40 + 0.02 * abs(ac_w)))


def signed_apparent(p: float, q: float) -> int:
    """sqrt(P^2 + Q^2), signed like P (as the ET's meter reports it)."""
    s = math.hypot(p, q)
    return int(round(-s if p < 0 else s))


def power_factor(p: float, q: float) -> float:
    """P / S, signed like P; 0 without any power."""
    s = math.hypot(p, q)
    return p / s if s else 0.0


def battery_shares(battery_w: int, plant: PlantConfig) -> tuple[int, int]:
    """The battery power per battery (they share it by capacity)."""
    if plant.battery2_capacity_kwh <= 0:
        return battery_w, 0
    first = int(round(battery_w * plant.capacity_kwh / plant.total_capacity_kwh))
    return first, battery_w - first


def publish(image: r.RegisterImage, st: PlantState, local: dt.datetime, plant: PlantConfig, *,
            rated_power_w: int = 10000) -> None:
    """Refresh every measured register from the plant state at local time ``local``."""
    pv = int(round(st.pv_w))
    battery = int(round(st.battery_w))
    ac = int(round(st.ac_w))
    load = int(round(st.load_w))
    backup = min(load, int(round(st.backup_w)))
    grid = ac - load
    volts = [plant.grid_voltage_v + off + 0.4 * ac / 1000 for off in PHASE_VOLTAGE_OFFSETS_V]
    phases = Phases(ac, load, backup, plant.load_power_factor)
    b1, b2 = battery_shares(battery, plant)
    _runtime(image, st, local, plant, pv, b1, ac, load, backup, grid, volts, phases, rated_power_w)
    _counters(image, st)
    if plant.has_meter:
        _meter(image, st, grid, volts, phases)
    else:
        image.set(r.METER[0], [0] * METER_BLOCK)
    _battery(image, st, plant, b1, b2)
    if rated_power_w >= 15000:
        _mppt(image, pv, phases)
    image.set(r.REG_CLOCK, r.timestamp(local))


class Phases:
    """Per-phase powers: the inverter's balanced output, the loads' unbalanced draw, the grid."""

    def __init__(self, ac: int, load: int, backup: int, load_pf: float):
        self.inverter = thirds(ac)
        self.load_port = split(load - backup, LOAD_PHASE_SHARES)
        self.backup = split(backup, BACKUP_PHASE_SHARES)
        self.grid = [i - lp - b for i, lp, b in zip(self.inverter, self.load_port, self.backup)]
        self.inverter_q = thirds(inverter_reactive_var(ac))
        house_q = [reactive_var(lp + b, load_pf) for lp, b in zip(self.load_port, self.backup)]
        # the grid supplies the loads' reactive power, less what the inverter gives
        self.grid_q = [int(round(q - iq)) for q, iq in zip(house_q, self.inverter_q)]


def _runtime(image, st: PlantState, local, plant: PlantConfig, pv: int, b1: int, ac: int, load: int, backup: int,
             grid: int, volts: list[float], phases: Phases, rated_power_w: int) -> None:
    ppv1 = int(round(pv * 0.55))
    ppv2 = pv - ppv1
    vpv = PV_VOLTAGE_V if pv > 0 else 0.0
    image.set(35100, r.timestamp(local))
    image.set(35103, [r.u16(vpv * 10), r.u16(ppv1 / vpv * 10) if vpv else 0] + r.u32(ppv1))
    image.set(35107, [r.u16(vpv * 10 * 0.97), r.u16(ppv2 / vpv * 10) if vpv else 0] + r.u32(ppv2))
    image.set(35119, [0, 0x0202 if pv > 0 else 0x0101])               # PV strings: producing / no power
    for base, v, p, q in zip((35121, 35126, 35131), volts, phases.inverter, phases.inverter_q):
        image.set(base, [r.u16(v * 10), r.u16(math.hypot(p, q) / v * 10), FREQUENCY_CHZ, 0, r.s16(p)])
    q_inv = sum(phases.inverter_q)
    image.set(35136, [1, 0, r.s16(ac), 0, r.s16(grid), 0, r.s16(q_inv), 0, r.s16(math.hypot(ac, q_inv))])
    for base, v, p in zip((35145, 35151, 35157), volts, phases.backup):   # back-up port, fed through the inverter
        image.set(base, [r.u16(v * 10), r.u16(abs(p) / v * 10), FREQUENCY_CHZ, 1, 0, r.s16(p)])
    l1, l2, l3 = phases.load_port
    ups_load_pct = math.ceil(backup * 100 / rated_power_w)
    image.set(35164, [r.s16(l1), 0, r.s16(l2), 0, r.s16(l3), 0, r.s16(backup), 0, r.s16(load - backup),
                      ups_load_pct])
    radiator = st.inverter_temp_c
    image.set(35174, [r.s16((radiator - 6) * 10), 0, r.s16(radiator * 10), 0, BUS_VOLTAGE_DV, BUS_VOLTAGE_DV // 2])
    mode = _battery_mode(st.battery_w)
    current = b1 / max(st.battery_voltage_v, 1.0)
    image.set(35180, [r.u16(st.battery_voltage_v * 10), r.s16(current * 10)] + r.s32(b1))
    image.set(35184, [mode, 0, 128, 1, image.get(r.REG_WORK_MODE), 0, 0])   # 128: Poland_B; 1: on-grid
    image.set(35220, [0, 0])


def _battery_mode(battery_w: float) -> int:
    """1 standby, 2 discharge, 3 charge."""
    battery = int(round(battery_w))
    return 1 if battery == 0 else (2 if battery > 0 else 3)


def _counters(image, st: PlantState) -> None:
    """The energy counters 35191-35211: PV, AC port (export = out, import = in), load, battery."""
    tot, day = st.totals_kwh, st.today_kwh
    image.set(35191, r.u32(tot["pv"] * 10) + r.u32(day["pv"] * 10) + r.u32(tot["ac_export"] * 10)
              + r.u32(st.hours_total) + [r.u16(day["ac_export"] * 10)] + r.u32(tot["ac_import"] * 10)
              + [r.u16(day["ac_import"] * 10)] + r.u32(tot["load"] * 10) + [r.u16(day["load"] * 10)]
              + r.u32(tot["battery_charge"] * 10) + [r.u16(day["battery_charge"] * 10)]
              + r.u32(tot["battery_discharge"] * 10) + [r.u16(day["battery_discharge"] * 10)])


def _meter(image, st: PlantState, grid: int, volts: list[float], phases: Phases) -> None:
    p, q = phases.grid, phases.grid_q
    p_total, q_total = grid, sum(q)
    pfs = [power_factor(a, b) for a, b in zip(p, q)] + [power_factor(p_total, q_total)]
    apparent = [signed_apparent(a, b) for a, b in zip(p, q)] + [signed_apparent(p_total, q_total)]
    export_kwh, import_kwh = st.totals_kwh["export"], st.totals_kwh["import"]
    image.set(36000, [1, 80, 10, 0, 1] + [r.s16(x) for x in p] + [r.s16(p_total), r.s16(q_total)]
              + [r.s16(pf * 1000) for pf in pfs] + [FREQUENCY_CHZ])
    image.set(36015, r.f32(export_kwh * 1000) + r.f32(import_kwh * 1000))   # Wh
    image.set(36019, [w for x in p + [p_total] for w in r.s32(x)])
    image.set(36027, [w for x in q + [q_total] for w in r.s32(x)])
    image.set(36035, [w for x in apparent for w in r.s32(x)])
    image.set(36043, [2, 3])                                            # 3-phase 4-wire meter, sw 3
    # the extended block (read by 15 kW and larger models): no second meter, voltages, currents
    image.set(36045, r.s32(0) + r.f32(0) + r.f32(0) + [0] + [r.u16(v * 10) for v in volts]
              + [r.u16(abs(s) / v * 10) for s, v in zip(apparent, volts)])
    for base, kwh in ((36092, export_kwh), (36108, import_kwh)):       # 64-bit, 0.01 kWh: L1-L3, total
        hundredths = int(round(kwh * 100))
        for i, part in enumerate(thirds(hundredths) + [hundredths]):
            image.set(base + 4 * i, _u64(part))


def _u64(value: int) -> list[int]:
    v = max(0, int(value))
    return [(v >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]


def _battery(image, st: PlantState, plant: PlantConfig, b1: int, b2: int) -> None:
    capacity = plant.total_capacity_kwh
    temp10 = st.battery_temp_c * 10
    cell_mv = st.battery_voltage_v / 64 * 1000
    amps = plant.max_charge_w / plant.nominal_voltage_v
    amps1 = amps * plant.capacity_kwh / capacity
    image.set(37000, [1, 0, 1, r.s16(temp10), r.u16(amps1), r.u16(amps1), 0, r.u16(st.soc_pct), 100, 5, 0,
                      0x0101, 0, 0, 0x0205, 0x0102, 3, 17, 12, 44, r.s16(temp10 + 15), r.s16(temp10 - 10),
                      r.u16(cell_mv + 8), r.u16(cell_mv - 8)])
    image.set(47906, [r.u16(st.battery_voltage_v * 10), r.s16(b1 / max(st.battery_voltage_v, 1.0) * 10),
                      r.u16(st.soc_pct), 100, r.s16(temp10)])
    if plant.battery2_capacity_kwh <= 0:
        return
    amps2 = amps - amps1
    volts2 = st.battery_voltage_v
    temp2 = temp10 - 5   # the second stack sits a little cooler
    image.set(35262, [r.u16(volts2 * 10), r.s16(b2 / max(volts2, 1.0) * 10)] + r.s32(b2) + [_battery_mode(b2), 0])
    image.set(39000, [1, r.s16(temp2), r.u16(amps2), r.u16(amps2), 0, r.u16(st.soc_pct), 100, 3, 0, 0x0101,
                      0, 0, 0x0205, 0x0102, 2, 11, 7, 30, r.s16(temp2 + 12), r.s16(temp2 - 8),
                      r.u16(cell_mv + 6), r.u16(cell_mv - 6)])


def _mppt(image, pv: int, phases: Phases) -> None:
    """The MPPT block 35301-35361: PV total, two trackers, per-phase reactive and apparent power."""
    ppv1 = int(round(pv * 0.55))
    ppv2 = pv - ppv1
    amps = [p / PV_VOLTAGE_V * 10 if pv else 0 for p in (ppv1, ppv2)]
    image.set(35301, r.u32(pv) + [2])
    image.set(35337, [r.u16(ppv1), r.u16(ppv2)])
    image.set(35345, [r.u16(a) for a in amps])
    image.set(35353, [w for q in phases.inverter_q for w in r.s32(q)])
    apparent = [int(round(math.hypot(p, q))) for p, q in zip(phases.inverter, phases.inverter_q)]
    image.set(35359, r.s32(apparent[0]) + [r.s32(apparent[1])[0]])   # the block ends at 35361
