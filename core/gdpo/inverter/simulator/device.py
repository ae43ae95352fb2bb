"""The simulated inverter: register image, physics, settings, write log, faults and clock.

:class:`SimulatedInverter` answers decoded Modbus requests (the servers in
:mod:`gdpo.inverter.simulator.server` do the framing). Physics advances lazily: before every
answer the plant is stepped up to the simulated "now", so an accelerated clock costs nothing
while nobody asks.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from gdpo.inverter.simulator import registers as r
from gdpo.inverter.simulator.control import Settings, decide
from gdpo.inverter.simulator.frames import (ILLEGAL_FUNCTION, READ_HOLDING, WRITE_MULTIPLE, WRITE_SINGLE,
                                            ModbusError, ModbusRequest)
from gdpo.inverter.simulator.physics import Plant, PlantConfig

UTC = dt.timezone.utc
STEP_S = 10.0   # largest physics step, simulated seconds


class SimClock:
    """Simulated time: ``start`` plus real elapsed time times ``speed``, plus manual advances."""

    def __init__(self, start: dt.datetime | None = None, speed: float = 1.0, monotonic=time.monotonic):
        if start is not None and start.tzinfo is None:
            raise ValueError("the simulator clock needs a timezone-aware start time")
        self.start = (start or dt.datetime.now(UTC)).astimezone(UTC)
        self.speed = float(speed)
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._offset_s = 0.0

    def now(self) -> dt.datetime:
        """The simulated current time (aware, UTC)."""
        elapsed = (self._monotonic() - self._t0) * self.speed + self._offset_s
        return self.start + dt.timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        """Jump the simulated time forward."""
        self._offset_s += seconds


@dataclass
class Faults:
    """Fault injection, changeable while the simulator runs.

    drop_every: silently drop every Nth request (0: never). delay_s: answer late.
    silent: answer nothing. exception_code: answer every request (or only those touching
    ``exception_registers``) with this Modbus exception. frozen: the values stop changing.
    ignore_writes: writes are echoed (so the client sees success) but not applied.
    """

    drop_every: int = 0
    delay_s: float = 0.0
    silent: bool = False
    exception_code: int | None = None
    exception_registers: tuple[int, int] | None = None   # [first, last] register range
    frozen: bool = False
    ignore_writes: bool = False

    def exception_for(self, request: ModbusRequest) -> int | None:
        """The injected exception code for ``request``, if any."""
        if self.exception_code is None:
            return None
        if self.exception_registers is None:
            return self.exception_code
        lo, hi = self.exception_registers
        last = request.address + max(request.count, 1) - 1
        return self.exception_code if request.address <= hi and last >= lo else None


@dataclass(frozen=True)
class WriteLogEntry:
    """One accepted write: when (simulated and real), where, what."""

    sim_time: dt.datetime
    wall_time: dt.datetime
    function: int
    address: int
    values: tuple[int, ...]


@dataclass
class SimulatorConfig:
    """Everything that shapes one simulated inverter."""

    plant: PlantConfig = field(default_factory=PlantConfig)
    identity: r.Identity = field(default_factory=r.Identity)
    speed: float = 1.0
    seed: int | None = None
    start: dt.datetime | None = None
    timezone: str = "Europe/Warsaw"


class SimulatedInverter:
    """A GoodWe ET as registers: read and write them, watch the physics, inject faults."""

    def __init__(self, config: SimulatorConfig | None = None):
        self.config = config or SimulatorConfig()
        self.identity = self.config.identity
        self.clock = SimClock(self.config.start, self.config.speed)
        self.tz = ZoneInfo(self.config.timezone)
        self.plant = Plant(self.config.plant, self.config.seed)
        self.faults = Faults()
        self.write_log: list[WriteLogEntry] = []
        self.requests_received = 0
        self.image = r.RegisterImage()
        self._lock = threading.RLock()
        pc = self.config.plant
        r.install_identity(self.image, self.identity)
        r.install_settings(self.image, self.identity, capacity_ah=pc.capacity_kwh * 1000 / pc.nominal_voltage_v,
                           battery_voltage_v=pc.nominal_voltage_v,
                           max_current_a=pc.max_charge_w / pc.nominal_voltage_v)
        self._sim_time = self.clock.now()
        self._settings: Settings | None = None
        self._settings_version = -1
        self._publish()

    # -- time -------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The simulated time of the last physics step (UTC)."""
        return self._sim_time

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` and run the physics up to it."""
        with self._lock:
            self.clock.advance(seconds)
            self.update()

    def update(self) -> None:
        """Step the physics up to the clock's now (nothing while frozen) and refresh the registers."""
        with self._lock:
            target = self.clock.now()
            if self.faults.frozen:
                self._sim_time = max(self._sim_time, target)
                return
            while self._sim_time < target:
                step = min(STEP_S, (target - self._sim_time).total_seconds())
                if step <= 1e-6:
                    break
                self._sim_time += dt.timedelta(seconds=step)
                self._step(step)
            self._publish()

    def _step(self, dt_s: float) -> None:
        if self._settings is None or self._settings_version != self.image.version:
            self._settings = Settings.from_image(self.image)   # decoded again only after a change
            self._settings_version = self.image.version
        settings = self._settings
        local = self._sim_time.astimezone(self.tz)
        pc = self.config.plant

        def decision(*, pv_w, load_w, soc_pct):
            return decide(settings, pv_w=pv_w, load_w=load_w, soc_pct=soc_pct, local=local,
                          rated_power_w=self.identity.rated_power_w, max_charge_w=pc.max_charge_w)

        self.plant.step(self._sim_time, local, dt_s, decision, export_limit_w=settings.export_limit_w,
                        soc_floor_pct=settings.soc_floor_pct, soc_ceiling_pct=settings.soc_ceiling_pct)

    # -- Modbus -----------------------------------------------------------------------
    def handle(self, request: ModbusRequest) -> list[int] | None:
        """Answer one request: the registers read, or None for an accepted write.

        Raises :class:`ModbusError` for what a real ET rejects.
        """
        with self._lock:
            if request.function == READ_HOLDING:
                self.update()
                return self.image.read(request.address, request.count)
            if request.function in (WRITE_SINGLE, WRITE_MULTIPLE):
                self.update()
                self.image.check_write(request.address, request.values)
                if self.faults.ignore_writes:
                    return None
                self.image.set(request.address, list(request.values))
                self.write_log.append(WriteLogEntry(self._sim_time, dt.datetime.now(UTC), request.function,
                                                    request.address, tuple(request.values)))
                self._publish()
                return None
            raise ModbusError(ILLEGAL_FUNCTION, f"function {request.function} not supported")

    def writes_to(self, address: int) -> list[WriteLogEntry]:
        """Logged writes that touched register ``address``."""
        return [w for w in self.write_log if w.address <= address < w.address + len(w.values)]

    def discovery_payload(self) -> bytes:
        """The AA55 device-info answer payload: model at [5:15], serial at [31:47]."""
        ident = self.identity
        head = bytes([0, 0, 0, 0, 0])
        model = ident.model_name.encode("ascii")[:10].ljust(10, b" ")
        middle = bytes(16)
        serial = ident.serial_number.encode("ascii")[:16].ljust(16, b" ")
        tail = ident.firmware.encode("ascii")[:12].ljust(12, b" ") + bytes(4)
        return head + model + middle + serial + tail

    # -- register publishing -----------------------------------------------------------
    def _publish(self) -> None:
        """Write the plant state into the runtime, meter and battery blocks."""
        st = self.plant.state
        local = self._sim_time.astimezone(self.tz)
        img = self.image
        pv = int(round(st.pv_w))
        ppv1 = int(round(pv * 0.55))
        ppv2 = pv - ppv1
        battery = int(round(st.battery_w))
        load = int(round(st.load_w))
        grid = pv + battery - load   # balances exactly: house_consumption == load
        vgrid = self.config.plant.grid_voltage_v
        inverter_out = pv + battery
        vpv = 380.0 if pv > 0 else 0.0
        img.set(35100, r.timestamp(local))
        img.set(35103, [r.u16(vpv * 10), r.u16(ppv1 / vpv * 10) if vpv else 0] + r.u32(ppv1))
        img.set(35107, [r.u16(vpv * 10 * 0.97), r.u16(ppv2 / vpv * 10) if vpv else 0] + r.u32(ppv2))
        img.set(35119, [0, 0x0202 if pv > 0 else 0x0101])
        for phase, base in enumerate((35121, 35126, 35131)):
            p = inverter_out / 3
            img.set(base, [r.u16(vgrid * 10), r.u16(abs(p) / vgrid * 10), 5000, 0, r.s16(p)])
        img.set(35136, [1, 0, r.s16(inverter_out), 0, r.s16(grid), 0, 0, 0, r.u16(abs(inverter_out))])
        for base in (35145, 35151, 35157):
            img.set(base, [r.u16(vgrid * 10), 0, 5000, 0, 0, 0])
        img.set(35164, [r.s16(load / 3), 0, r.s16(load / 3), 0, r.s16(load - 2 * round(load / 3)), 0, 0, 0,
                        r.s16(load), 0])
        img.set(35174, [r.s16(350 + abs(inverter_out) / 100), r.s16(400), r.s16(380), 0, 3800, 1900])
        vbat = st.battery_voltage_v
        mode = 1 if battery == 0 else (2 if battery > 0 else 3)
        img.set(35180, [r.u16(vbat * 10), r.s16(st.battery_current_a * 10)] + r.s32(battery))
        img.set(35184, [mode, 0, 128, 1, img.get(r.REG_WORK_MODE), 0, 0])
        tot, day = st.totals_kwh, st.today_kwh
        img.set(35191, r.u32(tot["pv"] * 10) + r.u32(day["pv"] * 10) + r.u32(tot["export"] * 10)
                + r.u32(st.hours_total) + [r.u16(day["export"] * 10)] + r.u32(tot["import"] * 10)
                + [r.u16(day["import"] * 10)] + r.u32(tot["load"] * 10) + [r.u16(day["load"] * 10)]
                + r.u32(tot["battery_charge"] * 10) + [r.u16(day["battery_charge"] * 10)]
                + r.u32(tot["battery_discharge"] * 10) + [r.u16(day["battery_discharge"] * 10)])
        img.set(35220, [0, 0])
        # meter block (36000): powers > 0 export, lifetime counters float32 in Wh
        img.set(36000, [0, 95, 0, 1, 1, r.s16(grid / 3), r.s16(grid / 3), r.s16(grid - 2 * round(grid / 3)),
                        r.s16(grid), 0, 990, 990, 990, 990, 5000])
        img.set(36015, r.f32(tot["export"] * 1000) + r.f32(tot["import"] * 1000))
        img.set(36019, r.s32(grid / 3) + r.s32(grid / 3) + r.s32(grid - 2 * round(grid / 3)) + r.s32(grid))
        img.set(36035, r.s32(abs(grid) / 3) * 3 + r.s32(abs(grid)))
        img.set(36043, [2, 0x0109])
        # battery block (37000)
        pc = self.config.plant
        amps = pc.max_charge_w / pc.nominal_voltage_v
        temp10 = st.battery_temp_c * 10
        img.set(37000, [1, 0, 1, r.s16(temp10), r.u16(amps), r.u16(amps), 0, r.u16(st.soc_pct), 100, 5, 0,
                        0x0101, 0, 0, 0x0205, 0x0102, 3, 17, 12, 44, r.s16(temp10 + 15), r.s16(temp10 - 10),
                        r.u16(vbat / 64 * 1000 + 8), r.u16(vbat / 64 * 1000 - 8)])
        img.set(r.REG_CLOCK, r.timestamp(local))
        img.set(47906, [r.u16(vbat * 10), r.s16(st.battery_current_a * 10), r.u16(st.soc_pct), 100, r.s16(temp10)])
