"""The executor: turns decisions into inverter commands through the gateway, with guards.

* write only on change: a command is sent only when the wanted mode differs from the one
  last commanded (the gateway itself writes a register only when it differs from what it
  read, and reads it back);
* no flip-flop: a charge is not started again within ``restart_block_min`` of a stop, and
  not stopped within ``min_run_min`` of its start, unless the rule is urgent (emergency,
  battery guard, target reached);
* unknown values never command: a decision made without a SOC, or a ``hold``, changes
  nothing;
* the user's mode is left alone until gdpo commands something, and restored (self-use)
  when gdpo stops;
* restarts: :meth:`Executor.reconcile` reads the inverter's real mode at start. A grid
  charge (eco charge) or an export (eco discharge) left by a process that died becomes
  gdpo's current mode, so the next decision either continues it or commands self-use (the
  "write only on change" guard compares with the real mode, never with an assumption);
  :meth:`Executor.release` reads the mode back and commands self-use whenever it is not
  the user's mode, even when this process never commanded anything.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Any

from gdpo.coordinator.interfaces import InverterGateway
from gdpo.coordinator.model import CHARGE, CONTINUE, HOLD, SELL, STOP, STOP_SELL, WAIT, Decision

log = logging.getLogger(__name__)

URGENT_RULES = ("emergency", "battery_guard")
CHARGE_MODE, SELL_MODE = "ECO_CHARGE", "ECO_DISCHARGE"  # the operation modes gdpo commands
SELF_USE_MODE = "GENERAL"


@dataclass(frozen=True)
class Mode:
    """What gdpo last commanded: ``charge`` (with target), ``sell``, or None (user's mode)."""

    name: str | None = None
    target_soc_pct: float | None = None
    power: float | None = None


class Executor:
    """Applies decisions to the inverter gateway."""

    def __init__(self, gateway: InverterGateway, config: dict[str, Any]):
        self.gateway = gateway
        self.config = config
        self.mode = Mode()
        self.changed_at: _dt.datetime | None = None
        self.commands: list[tuple[_dt.datetime, str, dict[str, Any]]] = []
        self.user_mode: str | None = None  # the operation mode name taken as the user's (found at start)
        self.adopted: Mode | None = None   # a leftover mode found at start, if any
        self.reconciled = False            # the real mode was read (or cannot be read)

    async def reconcile(self, now: _dt.datetime) -> dict[str, Any]:
        """At start: read the real mode and take a leftover grid charge or export (a process
        that died mid-session) as gdpo's current mode. Returns what was found: ``mode`` (the
        operation mode name, None when unknown), ``adopted`` (``charge``/``sell``/None)."""
        read_mode = getattr(self.gateway, "read_mode", None)
        if read_mode is None:
            log.info("the inverter gateway cannot read the mode: assuming the user's mode at start")
            self.reconciled = True
            return {"mode": None, "adopted": None, "assumed": True}
        state = await read_mode()
        self.reconciled = True
        name = _mode_name(state.mode)
        power = abs(state.eco_power_pct) if state.eco_power_pct is not None else None
        if name == CHARGE_MODE:
            self.mode = Mode("charge", float(state.eco_soc_pct) if state.eco_soc_pct is not None else None,
                             power if power else self.config["charging"]["charge_power_pct"])
        elif name == SELL_MODE:
            self.mode = Mode("sell", None, None)
        else:
            self.user_mode = name
            return {"mode": name, "adopted": None}
        self.user_mode = SELF_USE_MODE  # the user's own mode before the lost process is unknown
        self.adopted, self.changed_at = self.mode, None  # no flip-flop block: the next decision may stop it
        log.warning("inverter found in %s at start (left by a process that stopped mid-session): "
                    "taken as gdpo's current mode %s", name, self.mode)
        return {"mode": name, "adopted": self.mode.name, "target_soc_pct": self.mode.target_soc_pct}

    def _guard(self, decision: Decision, wanted: Mode, now: _dt.datetime) -> str | None:
        """Why a mode change must not happen now (None: it may)."""
        if decision.battery_soc_pct is None and wanted.name is not None:
            return "SOC unknown: never command on unknown values"
        if self.changed_at is None or decision.rule in URGENT_RULES:
            return None
        since_min = (now - self.changed_at).total_seconds() / 60
        ch = self.config["charging"]
        if self.mode.name == "charge" and wanted.name is None and since_min < ch["min_run_min"] \
                and not (decision.target_soc_pct is not None and decision.battery_soc_pct is not None
                         and decision.battery_soc_pct >= decision.target_soc_pct):
            return f"charging started {since_min:.1f} min ago (minimum run {ch['min_run_min']:g} min)"
        if self.mode.name is None and wanted.name == "charge" and since_min < ch["restart_block_min"]:
            return f"mode changed {since_min:.1f} min ago (restart block {ch['restart_block_min']:g} min)"
        return None

    def wanted_mode(self, decision: Decision) -> Mode | None:
        """The mode a decision asks for; None when it asks for no change."""
        if decision.action in (CHARGE, CONTINUE):
            target = decision.target_soc_pct if decision.target_soc_pct is not None else self.mode.target_soc_pct
            return Mode("charge", target, self.config["charging"]["charge_power_pct"])
        if decision.action == SELL:
            return Mode("sell", decision.numbers.get("min_soc_pct"), decision.numbers.get("power_w"))
        if decision.action in (STOP, STOP_SELL, WAIT):
            return Mode()
        return None  # HOLD and anything unknown: change nothing

    async def apply(self, decision: Decision, now: _dt.datetime) -> dict[str, Any]:
        """Command the inverter if the decision changes the mode; returns what happened."""
        if decision.action == HOLD:
            return {"commanded": False, "why": "hold: inputs unknown"}
        if not self.reconciled:  # the inverter did not answer at start: read its real mode now
            try:
                await self.reconcile(now)
            except Exception as exc:
                log.warning("could not read the inverter's mode: %s", exc)
        wanted = self.wanted_mode(decision)
        if wanted is None or wanted == self.mode:
            return {"commanded": False, "why": "no change"}
        if decision.action == CONTINUE and self.mode.name == "charge":
            return {"commanded": False, "why": "already charging"}
        refused = self._guard(decision, wanted, now)
        if refused:
            log.info("not commanding %s: %s", wanted.name or "self-use", refused)
            return {"commanded": False, "why": refused}
        await self._command(wanted)
        self.mode, self.changed_at = wanted, now
        self.commands.append((now, wanted.name or "self_use", {"target_soc_pct": wanted.target_soc_pct}))
        return {"commanded": True, "mode": wanted.name or "self_use"}

    async def _command(self, wanted: Mode) -> None:
        if wanted.name == "charge":
            await self.gateway.charge(int(round(wanted.target_soc_pct)), int(wanted.power))
        elif wanted.name == "sell":
            await self.gateway.sell(wanted.power, int(round(wanted.target_soc_pct)))
        else:
            await self.gateway.self_use()

    async def release(self) -> bool:
        """Shutdown: stop whatever gdpo commanded and leave the user's mode; the mode is read
        back, and anything but the user's mode (a charge this process did not know of) gets
        self-use too. True if a command was sent."""
        sent = False
        if self.mode.name is not None:
            await self.gateway.self_use()
            self.mode, sent = Mode(), True
        read_mode = getattr(self.gateway, "read_mode", None)
        try:
            name = _mode_name((await read_mode()).mode) if read_mode is not None else None
        except Exception as exc:  # still restore what the gateway saved
            log.warning("could not read the inverter's mode back at shutdown: %s", exc)
            name = None
        if name is not None:
            # gdpo's own modes are never the user's; after a leftover the user's mode is self-use
            if name in (CHARGE_MODE, SELL_MODE) or (self.user_mode == SELF_USE_MODE and name != SELF_USE_MODE):
                log.warning("inverter in %s at shutdown (not the user's mode %s): commanding self-use",
                            name, self.user_mode or SELF_USE_MODE)
                await self.gateway.self_use()
                sent = True
        shutdown = getattr(self.gateway, "shutdown", None)
        if shutdown is not None:
            await shutdown()
        return sent


def _mode_name(mode: Any) -> str | None:
    """The name of an operation mode (``goodwe.OperationMode`` or a string), None when unknown."""
    if mode is None:
        return None
    return getattr(mode, "name", None) or str(mode)
