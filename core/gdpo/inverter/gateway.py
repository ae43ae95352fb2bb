"""The inverter gateway: gdpo's one connection to the GoodWe inverter, over ``goodwe``.

* one :class:`InverterGateway` per process, handed to every component (like ``Storage``);
  every call is serialised on it;
* always ``goodwe.connect(host, port, family=...)``; never ``search_inverters()`` (a broadcast);
* readings come back as :class:`~gdpo.inverter.snapshot.InverterSnapshot` in gdpo's signs;
* commands write a setting only when what was read differs, and read it back after;
* ``sell`` saves the user's export limit and DoD first; they are restored when selling ends
  (``self_use``, ``charge``, ``restore_user_limits`` or ``shutdown``);
* a grid charge or export found before gdpo's first command (left by a process that died
  mid-session) is not taken as the user's mode: the user's mode is then self-use;
* after a failure the next attempt waits (exponential backoff); meanwhile calls fail fast
  with :class:`InverterUnavailable`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import struct
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import goodwe
from goodwe import EMSMode, InverterError, OperationMode
from goodwe.exceptions import RequestRejectedException

from gdpo.inverter.snapshot import InverterSnapshot, snapshot_from_sensors

log = logging.getLogger(__name__)
UTC = dt.timezone.utc
ECO_MODES = (OperationMode.ECO, OperationMode.ECO_CHARGE, OperationMode.ECO_DISCHARGE)
ECO_GROUPS = ("eco_mode_1", "eco_mode_2", "eco_mode_3", "eco_mode_4")
# the modes gdpo's own commands set (an all-day eco charge or discharge): found before gdpo's
# first command they are a leftover of a process that died mid-session, not the user's mode
LEFTOVER_MODES = (OperationMode.ECO_CHARGE, OperationMode.ECO_DISCHARGE)


class InverterGatewayError(Exception):
    """A problem talking to or commanding the inverter; the message names the inverter."""


class InverterUnavailable(InverterGatewayError):
    """The inverter did not answer (or we are waiting before the next reconnect attempt)."""


class InverterRejected(InverterGatewayError):
    """The inverter answered with a Modbus exception."""


class CommandNotApplied(InverterGatewayError):
    """A setting read back after writing differs from what was written."""


@dataclass(frozen=True)
class ModeState:
    """The part of the inverter state a mode command sets."""

    mode: OperationMode | None
    eco_power_pct: int | None = None
    eco_soc_pct: int | None = None
    ems_mode: EMSMode | None = None


@dataclass(frozen=True)
class UserLimits:
    """The user's export limit and on-grid DoD, saved before a selling session."""

    export_limit_w: int
    dod_pct: int


@dataclass(frozen=True)
class UserMode:
    """The user's operation mode (and eco groups) found before gdpo's first command."""

    mode: OperationMode | None
    eco_groups: tuple[bytes | None, ...]


def encode_schedule(group: Any) -> bytes:
    """The 12 raw bytes of a ``goodwe`` eco/schedule group read with ``read_setting``."""
    return struct.pack(">bbbbbbhhh", group.start_h, group.start_m, group.end_h, group.end_m, group.on_off,
                       group.day_bits, group.power, group.soc, group.month_bits)


class InverterGateway:
    """gdpo's connection to one GoodWe inverter (see the module docstring)."""

    def __init__(self, host: str, port: int = 8899, *, family: str = "ET", comm_addr: int = 0,
                 timeout: float = 1.0, retries: int = 3, backoff_initial_s: float = 5.0,
                 backoff_max_s: float = 300.0, monotonic: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC)):
        self.host, self.port, self.family = host, port, family
        self.comm_addr, self.timeout, self.retries = comm_addr, timeout, retries
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self._monotonic, self._now = monotonic, now
        self._inverter: goodwe.Inverter | None = None
        self._lock = asyncio.Lock()
        self._next_attempt = 0.0
        self._backoff = backoff_initial_s
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.saved_limits: UserLimits | None = None
        self.user_mode: UserMode | None = None
        self.writes = 0

    @classmethod
    def from_config(cls, config: Any, **overrides) -> "InverterGateway":
        """A gateway from a :class:`gdpo.config.Config` or a mapping of the ``inverter`` section."""
        section = config.section("inverter") if hasattr(config, "section") else dict(config)
        keys = ("host", "port", "family", "comm_addr", "timeout", "retries", "backoff_initial_s", "backoff_max_s")
        options = {k: section[k] for k in keys if k in section}
        options.update(overrides)
        return cls(options.pop("host"), **options)

    @property
    def name(self) -> str:
        """``host:port``, as messages name the inverter."""
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        """True after a successful connect and until the next failure."""
        return self._inverter is not None

    @property
    def model_name(self) -> str | None:
        """The model the inverter reported at connect."""
        return self._inverter.model_name if self._inverter else None

    @property
    def serial_number(self) -> str | None:
        """The serial number the inverter reported at connect."""
        return self._inverter.serial_number if self._inverter else None

    @property
    def rated_power_w(self) -> int | None:
        """Rated power reported at connect, W."""
        return self._inverter.rated_power if self._inverter else None

    # -- connection ---------------------------------------------------------------------
    async def connect(self) -> None:
        """Connect now (or raise :class:`InverterUnavailable`); later calls reconnect by themselves."""
        async with self._lock:
            await self._ensure_connected()

    async def _ensure_connected(self) -> goodwe.Inverter:
        if self._inverter is not None:
            return self._inverter
        wait = self._next_attempt - self._monotonic()
        if wait > 0:
            raise InverterUnavailable(f"inverter {self.name} is not answering ({self.last_error}); "
                                      f"next connection attempt in {wait:.1f} s")
        try:
            self._inverter = await goodwe.connect(self.host, self.port, family=self.family, comm_addr=self.comm_addr,
                                                  timeout=self.timeout, retries=self.retries)
        except (InverterError, OSError) as exc:
            self._failed(exc)
            raise InverterUnavailable(f"cannot connect to inverter {self.name} (family {self.family}): "
                                      f"{self.last_error}") from None
        log.info("connected to inverter %s at %s, S/N %s", self._inverter.model_name, self.name,
                 self._inverter.serial_number)
        self._succeeded()
        return self._inverter

    def _failed(self, exc: BaseException) -> None:
        self._inverter = None
        self.consecutive_failures += 1
        self.last_error = _describe(exc)
        self._next_attempt = self._monotonic() + self._backoff
        self._backoff = min(self.backoff_max_s, max(self._backoff * 2, self.backoff_initial_s))

    def _succeeded(self) -> None:
        self.consecutive_failures = 0
        self._backoff = self.backoff_initial_s
        self._next_attempt = 0.0

    async def _call(self, what: str, operation: Callable[[goodwe.Inverter], Awaitable[Any]]) -> Any:
        """Run ``operation`` on the connected inverter under the lock, mapping library errors."""
        async with self._lock:
            inverter = await self._ensure_connected()
            try:
                result = await operation(inverter)
            except RequestRejectedException as exc:
                self.last_error = f"{what}: rejected ({exc.message})"
                raise InverterRejected(f"inverter {self.name} rejected {what}: {exc.message}") from None
            except (InverterError, OSError) as exc:
                self._failed(exc)
                raise InverterUnavailable(f"inverter {self.name} did not answer {what}: {self.last_error}") from None
            except ValueError as exc:   # the library could not decode what the inverter holds
                self.last_error = f"{what}: {exc}"
                raise InverterGatewayError(f"inverter {self.name} returned an invalid value for {what}: {exc}") from None
            self._succeeded()
            return result

    # -- readings -----------------------------------------------------------------------
    async def read_snapshot(self) -> InverterSnapshot:
        """Read the runtime, battery and meter blocks; values in gdpo's units and signs."""
        data = await self._call("the runtime data read", lambda inv: inv.read_runtime_data())
        return snapshot_from_sensors(data, self._now())

    async def read_mode(self) -> ModeState:
        """The operation mode, the eco group in force (if an eco mode) and the EMS mode (the
        executor reads it at start, to find a leftover of an earlier process, and at shutdown)."""
        return await self._call("the mode read", self._mode_state)

    # -- commands -----------------------------------------------------------------------
    async def charge(self, target_soc: int, power_pct: int) -> bool:
        """Charge from the grid (eco charge, all day) at ``power_pct`` % of rated power up to
        ``target_soc`` %. Returns True when anything was written."""
        target_soc, power_pct = _percent("target_soc", target_soc, 1), _percent("power_pct", power_pct, 1)
        want = ModeState(OperationMode.ECO_CHARGE, -power_pct, target_soc, EMSMode.AUTO)
        return await self._call("the charge command", lambda inv: self._apply_mode(inv, want, power_pct, target_soc))

    async def self_use(self) -> bool:
        """Back to self-use (general mode, EMS auto), restoring limits a selling session changed."""
        want = ModeState(OperationMode.GENERAL, None, None, EMSMode.AUTO)
        return await self._call("the self-use command", lambda inv: self._apply_mode(inv, want, 100, 100))

    async def sell(self, power_w: float, min_soc: int) -> bool:
        """Discharge to the grid at about ``power_w`` W down to ``min_soc`` %: saves the user's
        export limit and DoD (once per session), sets export limit = power_w and DoD = 100 - min_soc,
        then eco discharge. Returns True when anything was written."""
        min_soc = _percent("min_soc", min_soc, 0)
        if power_w <= 0:
            raise ValueError(f"power_w must be > 0, got {power_w}")
        return await self._call("the sell command", lambda inv: self._sell(inv, int(round(power_w)), min_soc))

    async def restore_user_limits(self) -> bool:
        """Write back the export limit and DoD saved by :meth:`sell` (if any). True if anything was written."""
        if self.saved_limits is None:
            return False
        return await self._call("restoring the export limit and DoD", self._restore_limits)

    async def shutdown(self) -> None:
        """Leave the inverter as the user had it: limits restored, the user's mode (and eco
        groups) back if gdpo changed them. Errors are logged, not raised."""
        try:
            await self.restore_user_limits()
            if self.user_mode is not None:
                await self._call("restoring the user's mode", self._restore_user_mode)
        except InverterGatewayError as exc:
            log.warning("could not restore the user's settings on %s: %s", self.name, exc)

    # -- command internals (run under the lock, on a connected inverter) -----------------
    async def _mode_state(self, inv: goodwe.Inverter) -> ModeState:
        mode = await inv.get_operation_mode()
        power = soc = None
        if mode in (OperationMode.ECO_CHARGE, OperationMode.ECO_DISCHARGE):
            group = await inv.read_setting("eco_mode_1")
            power, soc = group.get_power(), group.soc
        return ModeState(mode, power, soc, await inv.get_ems_mode())

    async def _remember_user_mode(self, inv: goodwe.Inverter, current: ModeState) -> None:
        if self.user_mode is not None:
            return
        if current.mode in LEFTOVER_MODES:
            log.warning("inverter %s: found in %s before gdpo's first command (left by an earlier process); "
                        "the user's mode is taken as self-use", self.name, current.mode.name)
            self.user_mode = UserMode(OperationMode.GENERAL, ())
            return
        groups: list[bytes | None] = []
        if current.mode in ECO_MODES:
            for name in ECO_GROUPS:
                try:
                    groups.append(encode_schedule(await inv.read_setting(name)))
                except (ValueError, struct.error):
                    groups.append(None)
        self.user_mode = UserMode(current.mode, tuple(groups))

    async def _apply_mode(self, inv: goodwe.Inverter, want: ModeState, power_pct: int, soc: int) -> bool:
        changed = await self._restore_limits(inv)
        current = await self._mode_state(inv)
        await self._remember_user_mode(inv, current)
        if current == want:
            return changed
        log.info("inverter %s: %s -> %s", self.name, current, want)
        await inv.set_operation_mode(want.mode, eco_mode_power=power_pct, eco_mode_soc=soc)
        self.writes += 1
        after = await self._mode_state(inv)
        if after != want:
            raise CommandNotApplied(f"inverter {self.name}: mode read back as {after} after writing {want}")
        return True

    async def _sell(self, inv: goodwe.Inverter, power_w: int, min_soc: int) -> bool:
        if self.saved_limits is None:
            self.saved_limits = UserLimits(await inv.get_grid_export_limit(), await inv.get_ongrid_battery_dod())
            log.info("inverter %s: saved the user's %s", self.name, self.saved_limits)
        changed = await self._set_limits(inv, power_w, 100 - min_soc)
        rated = inv.rated_power or 10000
        pct = max(1, min(100, round(power_w * 100 / rated)))
        current = await self._mode_state(inv)
        await self._remember_user_mode(inv, current)
        want = ModeState(OperationMode.ECO_DISCHARGE, pct, 100, EMSMode.AUTO)
        if current != want:
            await inv.set_operation_mode(OperationMode.ECO_DISCHARGE, eco_mode_power=pct)
            self.writes += 1
            after = await self._mode_state(inv)
            if after != want:
                raise CommandNotApplied(f"inverter {self.name}: mode read back as {after} after writing {want}")
            changed = True
        return changed

    async def _set_limits(self, inv: goodwe.Inverter, export_limit_w: int, dod_pct: int) -> bool:
        changed = await self._write_if_different(inv, "grid export limit", export_limit_w,
                                                 inv.get_grid_export_limit, inv.set_grid_export_limit)
        return await self._write_if_different(inv, "on-grid DoD", dod_pct, inv.get_ongrid_battery_dod,
                                              inv.set_ongrid_battery_dod) or changed

    async def _write_if_different(self, inv, what: str, want: int, read, write) -> bool:
        if await read() == want:
            return False
        await write(want)
        self.writes += 1
        after = await read()
        if after != want:
            raise CommandNotApplied(f"inverter {self.name}: {what} read back as {after} after writing {want}")
        log.info("inverter %s: %s set to %s", self.name, what, want)
        return True

    async def _restore_limits(self, inv: goodwe.Inverter) -> bool:
        saved = self.saved_limits
        if saved is None:
            return False
        changed = await self._set_limits(inv, saved.export_limit_w, saved.dod_pct)
        self.saved_limits = None
        return changed

    async def _restore_user_mode(self, inv: goodwe.Inverter) -> None:
        user = self.user_mode
        current = await self._mode_state(inv)
        if user.mode in ECO_MODES:
            for name, raw in zip(ECO_GROUPS, user.eco_groups):
                if raw is not None and encode_schedule(await inv.read_setting(name)) != raw:
                    await inv.write_setting(name, raw)
                    self.writes += 1
            if current.mode not in ECO_MODES:
                await inv.write_setting("work_mode", int(OperationMode.ECO))
                self.writes += 1
        elif user.mode is not None and current.mode != user.mode:
            await inv.set_operation_mode(user.mode)
            self.writes += 1
        self.user_mode = None


def _describe(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message).splitlines()[0]


def _percent(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= 100:
        raise ValueError(f"{name} must be a percentage between {minimum} and 100, got {value!r}")
    return int(round(value))
