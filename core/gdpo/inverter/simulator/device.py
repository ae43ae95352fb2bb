"""The simulated inverter: register image, physics, settings, write log, faults and clock.

:class:`SimulatedInverter` answers decoded Modbus requests (the servers in
:mod:`gdpo.inverter.simulator.server` do the framing). Physics advances lazily: before every
answer the plant is stepped up to the simulated "now", so an accelerated clock costs nothing
while nobody asks.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from gdpo.inverter.simulator import registers as r
from gdpo.inverter.simulator.control import Settings, decide
from gdpo.inverter.simulator.frames import (ILLEGAL_FUNCTION, READ_HOLDING, WRITE_MULTIPLE, WRITE_SINGLE,
                                            ModbusError, ModbusRequest)
from gdpo.inverter.simulator.physics import Plant, PlantConfig
from gdpo.inverter.simulator.publish import publish

UTC = dt.timezone.utc
STEP_S = 10.0      # physics step, simulated seconds
MAX_STEPS = 20000  # most steps one catch-up takes (a simulated month at 10 s would be 260000)


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
    """Everything that shapes one simulated inverter.

    Without an ``identity`` the inverter is a GW10K-ET, or a GW25K-ET when the plant has a
    second battery (the ``goodwe`` library reads battery 2 only from a 25K/29K9 ET serial or a
    rated power of 25 kW and more). ``day_counters_from_midnight``: the day counters at the start
    hold what a self-use day from local midnight to the start gives (False: they start at 0);
    either way they reset at every local midnight.
    """

    plant: PlantConfig = field(default_factory=PlantConfig)
    identity: r.Identity | None = None
    speed: float = 1.0
    seed: int | None = None
    start: dt.datetime | None = None
    timezone: str = "Europe/Warsaw"
    day_counters_from_midnight: bool = True

    def __post_init__(self) -> None:
        if self.identity is None:
            self.identity = r.Identity.two_batteries() if self.plant.battery2_capacity_kwh > 0 else r.Identity()
        if self.plant.efficiency.rated_w != self.identity.rated_power_w:
            self.plant.efficiency = replace(self.plant.efficiency, rated_w=float(self.identity.rated_power_w))


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
        self.reads: collections.Counter[tuple[int, int]] = collections.Counter()   # (address, count) -> n
        self.image = r.RegisterImage()
        self._lock = threading.RLock()
        pc = self.config.plant
        r.install_identity(self.image, self.identity)
        r.install_settings(self.image, self.identity, capacity_ah=pc.total_capacity_kwh * 1000 / pc.nominal_voltage_v,
                           battery_voltage_v=pc.nominal_voltage_v,
                           max_current_a=pc.max_charge_w / pc.nominal_voltage_v)
        self._sim_time = self.clock.now()
        self._settings: Settings | None = None
        self._settings_version = -1
        if self.config.day_counters_from_midnight:
            self._count_day_so_far()
        self._step(1.0)   # the plant's state at the start time (one second of it)
        self._publish()

    def _count_day_so_far(self) -> None:
        """Fill today's counters with a self-use day from local midnight up to the start.

        A twin plant (same configuration, its own noise) runs on the factory settings in
        5-minute steps; only its day counters are kept: the SOC, temperatures and lifetime
        counters at the start are the configured ones."""
        local = self._sim_time.astimezone(self.tz)
        midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=self.tz).astimezone(UTC)
        twin = Plant(self.config.plant, None if self.config.seed is None else self.config.seed + 1)
        settings = Settings.from_image(self.image)
        pc = self.config.plant
        t = midnight
        while t < self._sim_time:
            step = min(300.0, (self._sim_time - t).total_seconds())
            t += dt.timedelta(seconds=step)
            when = t.astimezone(self.tz)

            def decision(*, pv_w, load_w, soc_pct, when=when):
                return decide(settings, pv_w=pv_w, load_w=load_w, soc_pct=soc_pct, local=when,
                              rated_power_w=self.identity.rated_power_w, max_charge_w=pc.max_charge_w)

            twin.step(t, when, step, decision, export_limit_w=settings.export_limit_w,
                      soc_floor_pct=settings.soc_floor_pct, soc_ceiling_pct=settings.soc_ceiling_pct)
        self.plant.state.day = local.date()
        self.plant.state.today_kwh = dict(twin.state.today_kwh) if twin.state.day == local.date() else \
            {k: 0.0 for k in twin.state.today_kwh}

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
            behind_s = (target - self._sim_time).total_seconds()
            largest = max(STEP_S, behind_s / MAX_STEPS)   # far behind (huge speed): coarser steps
            midnight = self._next_midnight()
            while self._sim_time < target:
                if self._sim_time >= midnight:
                    midnight = self._next_midnight()
                # steps end at local midnight, so each day's counters get exactly that day's energy
                step = min(largest, (target - self._sim_time).total_seconds(),
                           (midnight - self._sim_time).total_seconds())
                if step <= 1e-6:
                    break
                self._sim_time += dt.timedelta(seconds=step)
                self._step(step)
            self._publish()

    def _next_midnight(self) -> dt.datetime:
        """The next local midnight after the current simulated time (UTC)."""
        local = self._sim_time.astimezone(self.tz)
        tomorrow = local.date() + dt.timedelta(days=1)
        return dt.datetime.combine(tomorrow, dt.time(0), tzinfo=self.tz).astimezone(UTC)

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
        if settings.fast_charging and self.plant.state.soc_pct + 0.05 >= settings.fast_charging_soc:
            self.image.set(r.REG_FAST_CHARGING, 0)   # done: fast charging switches itself off

    # -- Modbus -----------------------------------------------------------------------
    def handle(self, request: ModbusRequest) -> list[int] | None:
        """Answer one request: the registers read, or None for an accepted write.

        Raises :class:`ModbusError` for what a real ET rejects.
        """
        with self._lock:
            if request.function == READ_HOLDING:
                self.update()
                registers = self.image.read(request.address, request.count)
                self.reads[(request.address, request.count)] += 1
                return registers
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
        publish(self.image, self.plant.state, self._sim_time.astimezone(self.tz), self.config.plant,
                rated_power_w=self.identity.rated_power_w)
