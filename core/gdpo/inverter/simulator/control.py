"""How the simulated inverter acts on its settings registers.

The settings are read back from the register image every physics step (so whatever the
coordinator wrote, verbatim, is what drives the plant) and turned into one decision: the
battery power the inverter aims for. Signs here are GoodWe's: battery power > 0 discharges.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gdpo.inverter.simulator import registers as r

# EMS modes (goodwe.EMSMode values) the simulator acts on; others behave as AUTO
EMS_AUTO = (0, 1)
EMS_CHARGE = (2, 4, 11)      # CHARGE_PV, IMPORT_AC, CHARGE_BATTERY
EMS_DISCHARGE = (3, 5, 12)   # DISCHARGE_PV, EXPORT_AC, DISCHARGE_BATTERY
EMS_STANDBY = 8


@dataclass(frozen=True)
class EcoGroup:
    """One decoded eco-mode group (V2 layout, 6 registers)."""

    start: tuple[int, int]
    end: tuple[int, int]
    enabled: bool
    day_bits: int
    power_pct: float       # < 0 charge, > 0 discharge
    soc_pct: int
    month_bits: int

    def applies(self, local: dt.datetime) -> bool:
        """True when the group is switched on and ``local`` falls in its days, months and window."""
        if not self.enabled:
            return False
        day_bit = 1 << ((local.weekday() + 1) % 7)   # bit 0 = Sunday
        if self.day_bits & 0x7F and not self.day_bits & day_bit:
            return False
        if self.month_bits not in (0, 0x0FFF) and not self.month_bits & (1 << (local.month - 1)):
            return False
        now = (local.hour, local.minute)
        if self.start <= self.end:
            return self.start <= now <= self.end
        return now >= self.start or now <= self.end


def decode_eco_group(image: r.RegisterImage, address: int) -> EcoGroup:
    """Decode the eco group at ``address`` the way ``goodwe.sensor.Schedule`` does."""
    words = [image.get(address + i) for i in range(6)]
    on_off = r.hi_byte_signed(words[2])
    schedule_type = -1 - on_off if -10 < on_off < 0 else None
    power = r.to_signed16(words[3])
    if schedule_type == 6:           # ECO_MODE_745 stores power x10
        power = power / 10
    return EcoGroup(start=(words[0] >> 8, words[0] & 0xFF), end=(words[1] >> 8, words[1] & 0xFF),
                    enabled=schedule_type in (0, 6), day_bits=words[2] & 0xFF, power_pct=power,
                    soc_pct=r.to_signed16(words[4]), month_bits=words[5])


@dataclass(frozen=True)
class Settings:
    """The settings registers that change what the inverter does."""

    work_mode: int
    ems_mode: int
    ems_power_limit_w: int
    eco_groups: tuple[EcoGroup, ...]
    fast_charging: bool
    fast_charging_soc: int
    fast_charging_power_pct: int
    export_limit_w: float | None
    soc_floor_pct: float
    soc_ceiling_pct: float

    @classmethod
    def from_image(cls, image: r.RegisterImage) -> "Settings":
        """Read the current settings out of the register image."""
        export_enabled = image.get(r.REG_GRID_EXPORT_ENABLED) != 0
        return cls(
            work_mode=image.get(r.REG_WORK_MODE),
            ems_mode=image.get(r.REG_EMS_MODE),
            ems_power_limit_w=image.get(r.REG_EMS_POWER_LIMIT),
            eco_groups=tuple(decode_eco_group(image, a) for a in r.REG_ECO_V2_GROUPS),
            fast_charging=image.get(r.REG_FAST_CHARGING) == 1,
            fast_charging_soc=image.get(r.REG_FAST_CHARGING_SOC),
            fast_charging_power_pct=image.get(r.REG_FAST_CHARGING_POWER),
            export_limit_w=float(image.get(r.REG_GRID_EXPORT_LIMIT)) if export_enabled else None,
            soc_floor_pct=float(min(100, image.get(r.REG_DISCHARGE_DEPTH))),
            soc_ceiling_pct=float(min(100, image.get(r.REG_SOC_UPPER_LIMIT) or 100)),
        )


@dataclass(frozen=True)
class Decision:
    """What the inverter aims for: battery power (> 0 discharge) and why."""

    battery_w: float
    reason: str
    grid_charging: bool = False   # the battery may draw from the grid for this


def decide(settings: Settings, *, pv_w: float, load_w: float, soc_pct: float, local: dt.datetime,
           rated_power_w: float, max_charge_w: float) -> Decision:
    """The battery setpoint for these settings and this moment, before battery limits.

    ``load_w`` is the load as the DC side must supply it (the plant passes the AC load plus the
    inverter's losses), so that self-use (battery = load_w - pv_w) leaves no grid flow."""
    surplus = pv_w - load_w
    if settings.ems_mode not in EMS_AUTO:
        limit = float(settings.ems_power_limit_w)
        if settings.ems_mode in EMS_CHARGE:
            return Decision(-limit, f"ems {settings.ems_mode}: charge", grid_charging=True)
        if settings.ems_mode in EMS_DISCHARGE:
            return Decision(limit, f"ems {settings.ems_mode}: discharge")
        if settings.ems_mode == EMS_STANDBY:
            return Decision(0.0, "ems standby")
    if settings.fast_charging and soc_pct < settings.fast_charging_soc:
        power = max_charge_w * settings.fast_charging_power_pct / 100
        return Decision(-power, "fast charging", grid_charging=True)
    if settings.work_mode == 3:  # eco: the first group in force decides
        for group in settings.eco_groups:
            if not group.applies(local):
                continue
            power = rated_power_w * abs(group.power_pct) / 100
            if group.power_pct < 0:
                if soc_pct >= group.soc_pct:
                    return Decision(min(0.0, -surplus), "eco charge: target reached, holding")
                return Decision(-power, "eco charge", grid_charging=True)
            if group.power_pct > 0:
                return Decision(power, "eco discharge")
    return Decision(-surplus, "self-use")  # general mode and eco without a group in force
