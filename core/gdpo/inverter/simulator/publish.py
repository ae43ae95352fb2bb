"""Writing the plant state into the ET's runtime (35100), meter (36000) and battery (37000)
blocks, encoded as ``goodwe/et.py`` decodes them.

Powers are rounded to whole watts first and the grid register is derived from the rounded
values, so the library's ``house_consumption`` (ppv1 + ppv2 + pbattery1 - active_power)
equals the load register exactly. GoodWe signs: battery > 0 discharging, grid > 0 exporting.
"""

from __future__ import annotations

import datetime as dt

from gdpo.inverter.simulator import registers as r
from gdpo.inverter.simulator.physics import PlantConfig, PlantState

PV_VOLTAGE_V = 380.0
FREQUENCY_CHZ = 5000   # 50.00 Hz


def thirds(total: int) -> list[int]:
    """Split a whole number over three phases so that the parts add up exactly."""
    part = int(round(total / 3))
    return [part, part, total - 2 * part]


def publish(image: r.RegisterImage, st: PlantState, local: dt.datetime, plant: PlantConfig) -> None:
    """Refresh every measured register from the plant state at local time ``local``."""
    pv = int(round(st.pv_w))
    battery = int(round(st.battery_w))
    load = int(round(st.load_w))
    grid = pv + battery - load
    _runtime(image, st, local, plant, pv, battery, load, grid)
    _meter(image, st, grid)
    _battery(image, st, plant)
    image.set(r.REG_CLOCK, r.timestamp(local))


def _runtime(image, st: PlantState, local, plant: PlantConfig, pv: int, battery: int, load: int, grid: int) -> None:
    ppv1 = int(round(pv * 0.55))
    ppv2 = pv - ppv1
    vgrid = plant.grid_voltage_v
    inverter_out = pv + battery
    vpv = PV_VOLTAGE_V if pv > 0 else 0.0
    image.set(35100, r.timestamp(local))
    image.set(35103, [r.u16(vpv * 10), r.u16(ppv1 / vpv * 10) if vpv else 0] + r.u32(ppv1))
    image.set(35107, [r.u16(vpv * 10 * 0.97), r.u16(ppv2 / vpv * 10) if vpv else 0] + r.u32(ppv2))
    image.set(35119, [0, 0x0202 if pv > 0 else 0x0101])               # PV strings: producing / no power
    for base, p in zip((35121, 35126, 35131), thirds(inverter_out)):
        image.set(base, [r.u16(vgrid * 10), r.u16(abs(p) / vgrid * 10), FREQUENCY_CHZ, 0, r.s16(p)])
    image.set(35136, [1, 0, r.s16(inverter_out), 0, r.s16(grid), 0, 0, 0, r.u16(abs(inverter_out))])
    for base in (35145, 35151, 35157):                                 # back-up outputs: idle
        image.set(base, [r.u16(vgrid * 10), 0, FREQUENCY_CHZ, 0, 0, 0])
    l1, l2, l3 = thirds(load)
    image.set(35164, [r.s16(l1), 0, r.s16(l2), 0, r.s16(l3), 0, 0, 0, r.s16(load), 0])
    image.set(35174, [r.s16(350 + abs(inverter_out) / 100), r.s16(400), r.s16(380), 0, 3800, 1900])
    mode = 1 if battery == 0 else (2 if battery > 0 else 3)           # standby / discharge / charge
    image.set(35180, [r.u16(st.battery_voltage_v * 10), r.s16(st.battery_current_a * 10)] + r.s32(battery))
    image.set(35184, [mode, 0, 128, 1, image.get(r.REG_WORK_MODE), 0, 0])   # 128: Poland_B
    tot, day = st.totals_kwh, st.today_kwh
    image.set(35191, r.u32(tot["pv"] * 10) + r.u32(day["pv"] * 10) + r.u32(tot["export"] * 10)
              + r.u32(st.hours_total) + [r.u16(day["export"] * 10)] + r.u32(tot["import"] * 10)
              + [r.u16(day["import"] * 10)] + r.u32(tot["load"] * 10) + [r.u16(day["load"] * 10)]
              + r.u32(tot["battery_charge"] * 10) + [r.u16(day["battery_charge"] * 10)]
              + r.u32(tot["battery_discharge"] * 10) + [r.u16(day["battery_discharge"] * 10)])
    image.set(35220, [0, 0])


def _meter(image, st: PlantState, grid: int) -> None:
    phases = thirds(grid)
    image.set(36000, [0, 95, 0, 1, 1] + [r.s16(p) for p in phases] + [r.s16(grid), 0, 990, 990, 990, 990,
                                                                       FREQUENCY_CHZ])
    image.set(36015, r.f32(st.totals_kwh["export"] * 1000) + r.f32(st.totals_kwh["import"] * 1000))  # Wh
    image.set(36019, [w for p in phases + [grid] for w in r.s32(p)])
    image.set(36035, [w for p in phases + [grid] for w in r.s32(abs(p))])
    image.set(36043, [2, 0x0109])                                      # 3-phase 4-wire meter


def _battery(image, st: PlantState, plant: PlantConfig) -> None:
    amps = plant.max_charge_w / plant.nominal_voltage_v
    temp10 = st.battery_temp_c * 10
    cell_mv = st.battery_voltage_v / 64 * 1000
    image.set(37000, [1, 0, 1, r.s16(temp10), r.u16(amps), r.u16(amps), 0, r.u16(st.soc_pct), 100, 5, 0,
                      0x0101, 0, 0, 0x0205, 0x0102, 3, 17, 12, 44, r.s16(temp10 + 15), r.s16(temp10 - 10),
                      r.u16(cell_mv + 8), r.u16(cell_mv - 8)])
    image.set(47906, [r.u16(st.battery_voltage_v * 10), r.s16(st.battery_current_a * 10), r.u16(st.soc_pct), 100,
                      r.s16(temp10)])
