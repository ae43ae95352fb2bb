"""The simulated house: PV by time of day and season, a noisy load profile with a backup
(EPS) circuit share, a battery (or two in parallel) with capacity, power limits, efficiency,
SOC and temperature, an inverter with conversion losses, and the grid balancing the rest.

Every quantity uses GoodWe's signs (battery > 0 discharging, grid > 0 exporting, AC > 0 out of
the inverter). Two balances hold every step: the DC side ``pv + battery = ac + loss`` (the
losses follow :class:`~gdpo.inverter.simulator.losses.EfficiencyCurve`) and the AC side
``ac - grid = load``. The ``goodwe`` library's ``house_consumption`` (pv + battery - grid) is
therefore ``load + loss``, as on real hardware. Energy counters integrate every step.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from gdpo.inverter.simulator.control import Decision
from gdpo.inverter.simulator.losses import EfficiencyCurve

# "import"/"export": the grid (the meter); "ac_import"/"ac_export": the inverter's AC port
COUNTERS = ("pv", "load", "import", "export", "battery_charge", "battery_discharge", "ac_import", "ac_export",
            "loss")


@dataclass
class PlantConfig:
    """Fixed properties of the simulated installation."""

    capacity_kwh: float = 10.0
    pv_peak_w: float = 8000.0
    max_charge_w: float = 5000.0
    max_discharge_w: float = 5000.0
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    initial_soc_pct: float = 50.0
    ambient_temp_c: float = 20.0
    nominal_voltage_v: float = 204.8
    grid_voltage_v: float = 230.0
    base_load_w: float = 300.0
    latitude_deg: float = 52.2
    longitude_deg: float = 21.0
    efficiency: EfficiencyCurve = field(default_factory=EfficiencyCurve)
    backup_base_w: float = 90.0       # the backup (EPS) circuit: fridge, router, boiler controls ...
    backup_share: float = 0.25        # ... plus this share of the house load
    load_power_factor: float = 0.95   # the house loads' (inductive) power factor
    battery2_capacity_kwh: float = 0.0   # a second battery in parallel (0: none)
    initial_hours_total: float = 4321.0  # the inverter's operating hours at the start
    has_meter: bool = True            # False: the meter block reads all zeros (no meter data)
    initial_counters_kwh: dict[str, float] = field(default_factory=lambda: {
        "pv": 8123.4, "load": 12345.6, "import": 6789.0, "export": 3456.7,
        "battery_charge": 2345.6, "battery_discharge": 2198.7, "ac_import": 123.4, "ac_export": 6234.5,
        "loss": 356.7})

    @property
    def total_capacity_kwh(self) -> float:
        """The capacity of all batteries together (they share power by capacity, one SOC)."""
        return self.capacity_kwh + self.battery2_capacity_kwh


@dataclass
class PlantState:
    """The state after the last step (powers in W, energies in kWh)."""

    soc_pct: float
    battery_temp_c: float
    pv_w: float = 0.0
    load_w: float = 0.0
    battery_w: float = 0.0     # > 0 discharging (all batteries, at their terminals)
    grid_w: float = 0.0        # > 0 exporting
    ac_w: float = 0.0          # the inverter's AC port, > 0 out (total_inverter_power)
    loss_w: float = 0.0        # conversion losses: pv + battery - ac
    backup_w: float = 0.0      # the part of load_w on the backup (EPS) port
    inverter_temp_c: float = 25.0
    reason: str = "starting"
    totals_kwh: dict[str, float] = field(default_factory=dict)
    today_kwh: dict[str, float] = field(default_factory=dict)
    hours_total: float = 0.0
    day: dt.date | None = None

    @property
    def battery_voltage_v(self) -> float:
        """Terminal voltage: rises with SOC, sags when discharging."""
        return self._open_circuit_v - self.battery_w / max(self._open_circuit_v, 1.0) * 0.05

    @property
    def battery_current_a(self) -> float:
        """Battery current, > 0 discharging."""
        return self.battery_w / max(self.battery_voltage_v, 1.0)

    _open_circuit_v: float = 204.8


class Plant:
    """Steps the house forward in time; ``decide`` supplies the inverter's battery setpoint."""

    def __init__(self, config: PlantConfig, seed: int | None = None):
        self.config = config
        self.random = random.Random(seed)
        totals = {k: 0.0 for k in COUNTERS}
        totals.update(config.initial_counters_kwh)
        self.state = PlantState(soc_pct=config.initial_soc_pct, battery_temp_c=config.ambient_temp_c + 2,
                                totals_kwh=totals, today_kwh={k: 0.0 for k in COUNTERS},
                                inverter_temp_c=config.ambient_temp_c + 10,
                                hours_total=config.initial_hours_total)
        self._first_step = True
        self._cloud = 0.9
        self._load_noise = 1.0
        self._spike_s = 0.0
        self._update_voltage()

    # -- environment ------------------------------------------------------------------
    def pv_available_w(self, when_utc: dt.datetime) -> float:
        """PV power the panels could give now: sun elevation by day of year and hour, times clouds."""
        cfg = self.config
        doy = when_utc.timetuple().tm_yday
        declination = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365)
        solar_hours = when_utc.hour + when_utc.minute / 60 + when_utc.second / 3600 + cfg.longitude_deg / 15
        hour_angle = math.radians(15 * (solar_hours - 12))
        lat = math.radians(cfg.latitude_deg)
        sin_elev = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(declination) * math.cos(hour_angle)
        if sin_elev <= 0:
            return 0.0
        clear_sky = min(1.0, (sin_elev / 0.87) ** 1.15)
        return cfg.pv_peak_w * clear_sky * self._cloud

    def load_profile_w(self, local: dt.datetime) -> float:
        """House load: base, a morning and an evening peak, weekend shape, noise and short spikes."""
        h = local.hour + local.minute / 60
        weekend = local.weekday() >= 5
        morning = 900 * math.exp(-((h - (8.5 if weekend else 7.0)) ** 2) / 1.2)
        midday = (500 if weekend else 200) * math.exp(-((h - 13) ** 2) / 4)
        evening = 1500 * math.exp(-((h - 19.0) ** 2) / 3)
        load = (self.config.base_load_w + morning + midday + evening) * self._load_noise
        if self._spike_s > 0:
            load += 2000
        return load

    def backup_load_w(self, load_w: float) -> float:
        """The part of the house load on the backup (EPS) port: a small circuit of its own."""
        cfg = self.config
        return min(load_w, cfg.backup_base_w + cfg.backup_share * load_w)

    def _advance_weather(self, dt_s: float) -> None:
        rnd = self.random
        k = min(1.0, dt_s / 600)
        self._cloud += k * (rnd.uniform(0.35, 1.0) - self._cloud)
        self._load_noise += min(1.0, dt_s / 120) * (rnd.gauss(1.0, 0.12) - self._load_noise)
        self._load_noise = max(0.6, min(1.5, self._load_noise))
        self._spike_s = max(0.0, self._spike_s - dt_s)
        if rnd.random() < dt_s / 3600 * 3:   # about three kettles an hour
            self._spike_s = rnd.uniform(60, 240)

    # -- one step ---------------------------------------------------------------------
    def step(self, when_utc: dt.datetime, local: dt.datetime, dt_s: float, decide, *,
             export_limit_w: float | None, soc_floor_pct: float, soc_ceiling_pct: float) -> None:
        """Advance ``dt_s`` seconds ending at ``when_utc``: environment, decision, limits, balance, counters."""
        st, curve = self.state, self.config.efficiency
        self._advance_weather(dt_s)
        pv = self.pv_available_w(when_utc)
        load = self.load_profile_w(local)
        # the battery power that makes the AC port give exactly the load (no grid flow): what
        # self-use aims for; decide() sees it as the deficit (load_w - pv_w) to cover
        balance = curve.battery_for_ac_w(pv, load)
        decision: Decision = decide(pv_w=pv, load_w=pv + balance, soc_pct=st.soc_pct)
        battery = self._battery_limits(decision.battery_w, soc_floor_pct, soc_ceiling_pct, dt_s)
        if not decision.grid_charging and battery < 0:
            battery = max(battery, min(0.0, balance))  # without a charge command only PV surplus charges
        ac = curve.ac_output_w(pv, battery)
        if export_limit_w is not None and ac - load > export_limit_w:
            bus = curve.bus_for_ac_w(load + export_limit_w)
            if battery > 0:          # a discharging battery gives way first
                battery = max(0.0, curve.battery_for_bus_w(bus - pv))
            if pv + curve.battery_to_bus_w(battery) > bus:
                pv = max(0.0, bus - curve.battery_to_bus_w(battery))   # then the panels are curtailed
            ac = curve.ac_output_w(pv, battery)
        st.pv_w, st.load_w, st.battery_w, st.ac_w, st.reason = pv, load, battery, ac, decision.reason
        st.grid_w = ac - load
        st.loss_w = pv + battery - ac
        st.backup_w = self.backup_load_w(load)
        self._integrate(dt_s)
        self._roll_day(local.date())   # after the step: one ending at midnight still counts for its day

    def _battery_limits(self, battery_w: float, floor: float, ceiling: float, dt_s: float) -> float:
        cfg, st = self.config, self.state
        capacity_wh = cfg.total_capacity_kwh * 1000
        if battery_w < 0:  # charging
            limit = cfg.max_charge_w
            if st.soc_pct > 95:   # taper near full, as a BMS does
                limit *= max(0.05, (100 - st.soc_pct) / 5)
            if st.battery_temp_c < 0 or st.battery_temp_c > 53:
                limit = 0.0
            room_wh = max(0.0, (ceiling - st.soc_pct) / 100 * capacity_wh)
            if room_wh < 1.0:   # full: the BMS stops charging
                return 0.0
            limit = min(limit, room_wh / cfg.charge_efficiency * 3600 / dt_s)
            return -min(-battery_w, limit)
        available_wh = max(0.0, (st.soc_pct - floor) / 100 * capacity_wh)
        if available_wh < 1.0:   # at the floor: the inverter stops discharging
            return 0.0
        limit = min(cfg.max_discharge_w, available_wh * cfg.discharge_efficiency * 3600 / dt_s)
        return min(battery_w, limit)

    def _integrate(self, dt_s: float) -> None:
        cfg, st = self.config, self.state
        hours = dt_s / 3600
        energies = {
            "pv": st.pv_w * hours / 1000,
            "load": st.load_w * hours / 1000,
            "import": max(0.0, -st.grid_w) * hours / 1000,
            "export": max(0.0, st.grid_w) * hours / 1000,
            "battery_charge": max(0.0, -st.battery_w) * hours / 1000,
            "battery_discharge": max(0.0, st.battery_w) * hours / 1000,
            "ac_import": max(0.0, -st.ac_w) * hours / 1000,
            "ac_export": max(0.0, st.ac_w) * hours / 1000,
            "loss": st.loss_w * hours / 1000,
        }
        for name, kwh in energies.items():
            st.totals_kwh[name] += kwh
            st.today_kwh[name] += kwh
        stored = energies["battery_charge"] * cfg.charge_efficiency - energies["battery_discharge"] / cfg.discharge_efficiency
        st.soc_pct = max(0.0, min(100.0, st.soc_pct + stored / cfg.total_capacity_kwh * 100))
        tau_s = 7200.0
        heating = 10.0 / (5000 * tau_s) * abs(st.battery_w) * dt_s
        st.battery_temp_c += (cfg.ambient_temp_c - st.battery_temp_c) * min(1.0, dt_s / tau_s) + heating
        # the heat sink (fanless): 10 K above ambient idle, 0.08 K per watt of losses, 15-minute lag
        target = cfg.ambient_temp_c + 10 + 0.08 * st.loss_w
        st.inverter_temp_c += (target - st.inverter_temp_c) * (1.0 if self._first_step else min(1.0, dt_s / 900))
        self._first_step = False
        if st.pv_w > 0:
            st.hours_total += hours
        self._update_voltage()

    def _update_voltage(self) -> None:
        self.state._open_circuit_v = self.config.nominal_voltage_v * (0.93 + 0.0012 * self.state.soc_pct)

    def _roll_day(self, today: dt.date) -> None:
        """Zero the day counters when the local day has changed (the device ends a step at midnight)."""
        if self.state.day != today:
            if self.state.day is not None:
                self.state.today_kwh = {k: 0.0 for k in COUNTERS}
            self.state.day = today
