"""MasterCoordinator: the timers of the running process, all on one clock.

* telemetry tick (``collector.interval_s``, 60 s), at each minute start: the collector
  reads the inverter and stores ``energy_data`` stamped with the minute; active sessions book
  the energy since the previous reading;
* decision tick, aligned to each quarter-hour (:00/:15/:30/:45): prices of the known
  horizon, the daily plan (re-planned when tomorrow's prices arrive), the charging rules
  (and selling when enabled), the executor, the session records; every decision is
  stored in ``coordinator_decisions`` with the whole decision in ``payload``;
* heartbeat (``coordinator.heartbeat_interval_s``, 60 s): a small ``system_state`` record;
* PV forecast every ``pv_forecast.refresh_interval_min``; ``daily_stats`` after local midnight.

The timers run one after the other in a single loop (telemetry before a decision due at
the same instant), so a simulated clock at high speed gives the same order as real time.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from typing import Any, Callable

from gdpo.coordinator.clock import Clock, RealClock
from gdpo.coordinator.clock_guard import ClockGuard
from gdpo.coordinator.daily_stats import compute_daily_stats
from gdpo.coordinator.executor import Executor
from gdpo.coordinator.interfaces import DataCollector, InverterGateway, PriceSource
from gdpo.coordinator.model import CHARGE, CONTINUE, SELL, STOP, Decision, PriceBasis, Telemetry, quarter_start
from gdpo.coordinator.pv_forecast import PVForecaster
from gdpo.coordinator.selling import BatterySellingAnalytics
from gdpo.coordinator.sessions import MultiSessionManager
from gdpo.coordinator.strategy import OptimiserStrategy, make_strategy
from gdpo.storage.aggregate import local_midnight_utc, zone

log = logging.getLogger(__name__)


class MasterCoordinator:
    """Runs the coordinator until :meth:`request_stop`, then shuts down cleanly."""

    def __init__(self, storage, gateway: InverterGateway, collector: DataCollector | None, prices: PriceSource,
                 config: dict[str, Any], *, clock: Clock | None = None,
                 telemetry_interval_s: float = 60.0, status: Callable[[str], None] | None = None):
        self.storage = storage
        self.gateway = gateway
        self.collector = collector
        self.prices = prices
        self.config = config
        self.clock = clock or RealClock()
        # only the real clock can be wrong at boot; a simulated one is chosen on purpose
        self.clock_guard = ClockGuard(self.clock.now) if isinstance(self.clock, RealClock) else None
        self.clock_poll_s = 5.0  # real seconds between looks at a clock that cannot be believed yet
        self.tz = config["coordinator"]["timezone"]
        self.telemetry_interval_s = telemetry_interval_s
        self.status = status or (lambda line: None)
        self.logic = make_strategy(config)
        self.executor = Executor(gateway, config)
        self.sessions = MultiSessionManager(storage, config)
        self.selling = BatterySellingAnalytics(storage, config, basis=PriceBasis.of(prices))
        self.pv = PVForecaster(storage, config)
        self.started_at: _dt.datetime | None = None
        self.state = "starting"
        self.last_error: str | None = None
        self.reading: Telemetry | None = None
        self.last_decision: Decision | None = None
        self.decisions = 0
        self.decisions_by_action: dict[tuple[str, str], int] = {}  # (decision_type, action) -> stored
        self.readings = 0
        self.price_note: str | None = None
        self._prices: list[Any] = []
        self.fetch_prices = True  # False: use only stored (or sample) prices, never call PSE
        self._stop = asyncio.Event()
        self._stats_day: _dt.date | None = None
        self._last_status: _dt.datetime | None = None

    # -- control -------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask the loop to stop (signal handlers call this)."""
        self._stop.set()

    @property
    def uptime_s(self) -> float:
        """Seconds (of the coordinator's clock) since start."""
        return 0.0 if self.started_at is None else max(0.0, (self.clock.now() - self.started_at).total_seconds())

    async def run(self, until: _dt.datetime | None = None) -> None:
        """Run the timers until ``until`` (clock time) or a stop request, then shut down.
        With the real clock, first wait until it can be believed (see ``clock_guard``)."""
        now = self.clock.now()
        if self.clock_guard is not None:
            await self.clock_guard.prime(self.storage)
            if self.clock_guard.problem(now):
                self.status(f"waiting for a sane clock: {self.clock_guard.problem(now)}")
            now = await self.clock_guard.wait_until_sane(self.clock_poll_s, stop=self._stop)
            if self._stop.is_set():
                return
        self.started_at = now
        await self._heartbeat(now, strict=True)  # nothing can be stored (not even spooled): do not run
        await self.storage.flush()
        try:
            await self.sessions.load(now)
        except Exception as exc:  # the database is down (writes go to the spool): carry on
            self._error(f"could not read today's sessions: {exc}")
        self._stats_day = now.astimezone(zone(self.tz)).date()
        await self.reconcile(now)
        step = _dt.timedelta(seconds=self.telemetry_interval_s)
        first_reading = _boundary_at(now, step) + step if self.readings else now
        timers = {"telemetry": first_reading, "decision": now,
                  "heartbeat": now + self._every("heartbeat_interval_s"), "pv": now}
        try:
            while not self._stop.is_set():
                due_name = min(timers, key=lambda k: (timers[k], list(timers).index(k)))
                due = timers[due_name]
                if until is not None and due >= until:
                    await self._sleep_until(until)
                    break
                await self._sleep_until(due)
                if self._stop.is_set():
                    break
                now = self.clock.now()
                timers[due_name] = await self._fire(due_name, now, due)
        finally:
            await self.shutdown()

    async def reconcile(self, now: _dt.datetime) -> dict[str, Any]:
        """Before the first decision: read the inverter's real mode. A grid charge left by a
        process that died mid-charge is adopted as an active session measured from now (the
        first decision continues it or stops it); a leftover export is stopped by the first
        decision. Never raises: an inverter that does not answer is reported."""
        try:
            found = await self.executor.reconcile(now)
        except Exception as exc:
            self._error(f"could not read the inverter's mode at start: {exc}")
            return {"mode": None, "adopted": None, "error": str(exc)}
        if found.get("adopted") is None:
            return found
        self.status(f"inverter found in {found['mode']} at start (left by an earlier process): "
                    + ("adopted as a charging session" if found["adopted"] == "charge"
                       else "the first decision ends it unless it wants to sell"))
        if found["adopted"] == "charge" and self.sessions.active is None:
            try:
                await self.refresh_prices(now)
                await self.telemetry_tick(now)
                await self.sessions.adopt(self.reading, self._quarter(now), now,
                                          target_soc_pct=found.get("target_soc_pct"))
            except Exception as exc:
                self._error(f"could not adopt the charge found at start: {exc}")
        self.state = self._current_state()
        return found

    def _every(self, key: str) -> _dt.timedelta:
        return _dt.timedelta(seconds=self.config["coordinator"][key])

    async def _sleep_until(self, when: _dt.datetime) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep_until(when))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()

    async def _fire(self, name: str, now: _dt.datetime, due: _dt.datetime) -> _dt.datetime:
        """Run one timer; return when it is due next."""
        try:
            if name == "telemetry":
                await self.telemetry_tick(now)
                # readings at the interval's boundaries (the minute start): a first reading
                # off the boundary is followed by the next boundary
                step = _dt.timedelta(seconds=self.telemetry_interval_s)
                return _next_after(_boundary_at(due, step), step, now)
            if name == "decision":
                # decide for the quarter that is due (its aligned instant), unless far behind
                step = _dt.timedelta(minutes=self.config["coordinator"]["decision_interval_min"])
                when = due if now - due < step else now
                await self.decision_tick(when)
                self._status_if_due(when)
                return _aligned_after(now, step)
            if name == "heartbeat":
                await self._heartbeat(now)
                return _next_after(due, self._every("heartbeat_interval_s"), now)
            if name == "pv":
                await self.pv.refresh(now)
                return now + _dt.timedelta(minutes=self.config["pv_forecast"]["refresh_interval_min"])
        except Exception as exc:  # one failed tick never ends the process
            self._error(f"{name} tick failed: {exc}")
            log.debug("%s tick failed", name, exc_info=True)
        return now + _dt.timedelta(seconds=self.telemetry_interval_s)

    def _status_if_due(self, now: _dt.datetime) -> None:
        """A status line after a decision, at most every ``status_interval_s``."""
        if self._last_status is None or now - self._last_status >= self._every("status_interval_s") * 0.9:
            self._last_status = now
            self.status(self.status_line(now))

    def _error(self, message: str) -> None:
        self.last_error = message
        log.warning(message)

    # -- ticks ---------------------------------------------------------------------
    async def telemetry_tick(self, now: _dt.datetime) -> None:
        """Read the inverter (the collector stores the record) and meter active sessions."""
        if self._clock_refused(now):
            return
        record = await self.collector.collect_once()
        if record is None:  # the collector logged it and recorded the degraded state
            self.last_error = f"inverter not answering: {getattr(self.collector, 'last_error', None)}"
            return
        self.reading = Telemetry.from_mapping(record)
        self.readings += 1
        if self.clock_guard is not None:
            self.clock_guard.seen(self.reading.ts)
        quarter = self._quarter(self.reading.ts)
        await self.sessions.observe(self.reading, quarter)
        await self.selling.observe(self.reading, quarter)

    def price_for(self, t: _dt.datetime) -> tuple[float, str | None] | None:
        """(final price, tariff zone) of the quarter holding ``t`` among the known prices."""
        q = self._quarter(t)
        return None if q is None else (q.final_pln_kwh, getattr(q, "tariff_zone", None))

    def _quarter(self, t: _dt.datetime):
        start = quarter_start(t)
        for q in self._prices:
            if q.period_start == start:
                return q
        return None

    async def refresh_prices(self, now: _dt.datetime) -> list[Any]:
        """Prices of the known horizon (today, and tomorrow once published); PSE trouble is
        reported once and never stops the loop."""
        try:
            status = {}
            if self.fetch_prices and hasattr(self.prices, "refresh"):
                status = await self.prices.refresh(now)
            failures = [f"{day}: {text}" for (_, day), text in status.items() if text not in ("known", "waiting")]
            note = "; ".join(failures) or None
            if note and note != self.price_note:
                sample = getattr(self.prices, "simulate", False)
                self.status(f"PSE prices not available ({note})" +
                            ("; using the bundled SAMPLE prices" if sample else "; self-use until prices are known"))
            self.price_note = note
            start = quarter_start(now) - _dt.timedelta(minutes=15)
            self._prices = list(await self.prices.prices_between(start, self.horizon_limit(now)))
        except Exception as exc:
            self._error(f"prices unavailable: {exc}")
            self._prices = [q for q in self._prices if q.period_start >= quarter_start(now)]
        return self._prices

    def horizon_limit(self, now: _dt.datetime) -> _dt.datetime:
        """The end of tomorrow (local): the farthest a day-ahead price can be known."""
        today = now.astimezone(zone(self.tz)).date()
        return local_midnight_utc(today + _dt.timedelta(days=2), self.tz)

    def _clock_refused(self, now: _dt.datetime) -> bool:
        """True when the real clock reads a time that must not be stamped (logged once)."""
        return self.clock_guard is not None and self.clock_guard.refuse(now)

    async def decision_tick(self, now: _dt.datetime) -> Decision | None:
        """Decide for this quarter, command, and store the decision and the sessions (nothing
        while the real clock cannot be believed: then the last decision is returned)."""
        if self._clock_refused(now):
            return self.last_decision
        prices = await self.refresh_prices(now)
        try:
            await self._daily_stats_if_new_day(now)
        except Exception as exc:
            self._error(f"daily stats failed: {exc}")
        horizon_end = max((q.period_start for q in prices), default=None)
        if prices and self.config["charging"]["plan"]["enabled"] and (
                self.sessions.plan_horizon_end is None or horizon_end >= self.sessions.plan_horizon_end):
            soc = self.reading.battery_soc_pct if self.reading else None
            await self.sessions.replan(prices, soc, now)
        await self.sessions.expire_planned(now)
        if self.sessions.active is not None:
            await self.sessions.checkpoint()
        reading = self.reading
        args = (reading, prices, self.sessions.today(now), now)
        try:
            await self.logic.prepare(self.storage, now)
        except Exception as exc:  # no history (or the database is down): forecast from the reading
            self._error(f"load forecast unavailable: {exc}")
        if isinstance(self.logic, OptimiserStrategy):
            # a solve may take up to optimiser.time_limit_s: never on the event loop
            decision = await asyncio.to_thread(self.logic.decide, *args, pv_forecast_w=self.pv.power_at(now),
                                               pv_at=self.pv.power_at)
        else:
            decision = self.logic.decide(*args, pv_forecast_w=self.pv.power_at(now), pv_at=self.pv.power_at)
        result = await self._execute(decision, now)
        await self._store_decision(decision, result)
        sell = self.selling.decide(reading, prices, now)
        if sell is not None and not decision.is_charging:
            result = await self._execute(sell, now)
            await self._store_decision(sell, result)
        self.last_decision = decision
        self.decisions += 1
        self.state = self._current_state()
        return decision

    async def _execute(self, decision: Decision, now: _dt.datetime) -> dict[str, Any]:
        """Apply a decision through the executor, then open or close sessions to match the mode."""
        try:
            result = await self.executor.apply(decision, now)
        except Exception as exc:
            self._error(f"inverter command failed: {exc}")
            result = {"commanded": False, "error": str(exc)}
        await self._sync_sessions(decision, now)
        return result

    async def _sync_sessions(self, decision: Decision, now: _dt.datetime) -> None:
        mode = self.executor.mode.name
        why = f"[{decision.rule}] {decision.reason}"
        if mode != "charge" and self.sessions.active is not None:
            reached = decision.action == STOP and decision.battery_soc_pct is not None \
                and decision.target_soc_pct is not None and decision.battery_soc_pct >= decision.target_soc_pct
            await self.sessions.finish("completed" if reached else "cancelled", self.reading, now, why)
        if mode != "sell" and self.selling.active is not None:
            await self.selling.finish("completed", self.reading, now, why)
        quarter = self._quarter(now)
        if quarter is None or self.reading is None:
            return
        if mode == "charge" and decision.action in (CHARGE, CONTINUE) and self.sessions.active is None:
            await self.sessions.start(decision, self.reading, quarter, now)
        if mode == "sell" and decision.action == SELL and self.selling.active is None:
            await self.selling.start(decision, self.reading, quarter, now)

    async def _store_decision(self, decision: Decision, result: dict[str, Any]) -> None:
        record = decision.to_record()
        record["payload"]["executed"] = result
        record["payload"]["prices_sample"] = any(getattr(q, "is_sample", False) for q in self._prices[:1])
        try:
            await self.storage.write("coordinator_decisions", record)
        except Exception as exc:
            self._error(f"could not store the decision: {exc}")
            return
        key = (record["decision_type"], record["action"])
        self.decisions_by_action[key] = self.decisions_by_action.get(key, 0) + 1
        if self.clock_guard is not None:
            self.clock_guard.seen(decision.ts)

    def _current_state(self) -> str:
        if self.executor.mode.name == "charge":
            return "charging"
        if self.executor.mode.name == "sell":
            return "selling"
        if getattr(self.collector, "state", None) == "degraded" or not self._prices:
            return "degraded"
        return "monitoring"

    async def _heartbeat(self, now: _dt.datetime, state: str | None = None, *, strict: bool = False) -> None:
        if self._clock_refused(now):
            return
        r = self.reading
        metrics = {"soc_pct": r.battery_soc_pct if r else None, "pv_w": r.pv_power_w if r else None,
                   "grid_w": r.grid_power_w if r else None,
                   "price_pln_kwh": self.last_decision.price_pln_kwh if self.last_decision else None,
                   "decisions": self.decisions, "readings": self.readings,
                   "session": self.sessions.active_id}
        try:
            await self.storage.write("system_state", {"ts": now, "state": state or self.state,
                                                      "uptime_s": self.uptime_s, "last_error": self.last_error,
                                                      "metrics": metrics, "payload": {"source": "coordinator"}})
        except Exception as exc:
            if strict:
                raise
            log.error("could not store the heartbeat: %s", exc)

    async def _daily_stats_if_new_day(self, now: _dt.datetime) -> None:
        day = now.astimezone(zone(self.tz)).date()
        if self._stats_day is not None and day > self._stats_day:
            await self.write_daily_stats(self._stats_day)
        self._stats_day = day

    async def write_daily_stats(self, day: _dt.date, *, partial: bool = False):
        """Compute and store ``daily_stats`` of local ``day``."""
        start = local_midnight_utc(day, self.tz)
        prices = await self.prices.prices_between(start, start + _dt.timedelta(hours=25))
        stats = await compute_daily_stats(self.storage, day, prices, self.tz, basis=PriceBasis.of(self.prices))
        if stats is not None:
            if partial:
                stats = stats.replace(payload={**stats.payload, "partial": True})
            await self.storage.write("daily_stats", stats)
        return stats

    # -- status and shutdown -----------------------------------------------------------
    def status_line(self, now: _dt.datetime) -> str:
        """One line: local time, state, SOC, PV, load, grid (the reading the decision saw), price,
        and the decision with its rule."""
        r, d = self.reading, self.last_decision
        local = now.astimezone(zone(self.tz))

        def fmt(v, unit, spec=".0f"):
            return "?" if v is None else f"{v:{spec}}{unit}"

        sample = " SAMPLE" if any(getattr(q, "is_sample", False) for q in self._prices[:1]) else ""
        return (f"{local:%Y-%m-%d %H:%M} {self.state:<10} SOC {fmt(r and r.battery_soc_pct, '%')} "
                f"PV {fmt(r and r.pv_power_w, 'W')} load {fmt(r and r.house_consumption_w, 'W')} "
                f"grid {fmt(r and r.grid_power_w, 'W')} price {fmt(d and d.price_pln_kwh, ' PLN/kWh', '.3f')}{sample} "
                f"-> {d.action + ' (' + d.rule + ')' if d else '-'}")

    async def shutdown(self) -> None:
        """Stop an active grid charge or sale, leave the user's mode, close sessions as
        cancelled with their measured values, store today's figures, state ``stopped``."""
        now = self.clock.now()
        try:
            if self.collector is not None:
                record = await self.collector.collect_once()
                if record is not None:
                    self.reading = Telemetry.from_mapping(record)
        except Exception as exc:
            self._error(f"last reading failed: {exc}")
        try:
            await self.executor.release()
        except Exception as exc:
            self._error(f"could not leave the user's mode: {exc}")
        if self.sessions.active is not None:
            await self.sessions.finish("cancelled", self.reading, now, "coordinator stopped")
        if self.selling.active is not None:
            await self.selling.finish("cancelled", self.reading, now, "coordinator stopped")
        try:
            await self.write_daily_stats(now.astimezone(zone(self.tz)).date(), partial=True)
        except Exception as exc:
            self._error(f"daily stats failed: {exc}")
        self.state = "stopped"
        await self._heartbeat(now, "stopped")
        await self.storage.flush()

    async def get_state_history(self, start: Any, end: Any) -> list[Any]:
        """``system_state`` records with ``start <= ts < end``, through the storage API."""
        return await get_state_history(self.storage, start, end)


async def get_state_history(storage, start: Any, end: Any) -> list[Any]:
    """``system_state`` records with ``start <= ts < end``, oldest first."""
    return await storage.read("system_state", start, end)


def _next_after(due: _dt.datetime, step: _dt.timedelta, now: _dt.datetime, catch_up: int = 10) -> _dt.datetime:
    """The next due time: one step after ``due`` (a late tick is caught up, so a busy moment
    does not lose heartbeats or readings), unless more than ``catch_up`` steps behind."""
    nxt = due + step
    if now - nxt > catch_up * step:
        while nxt <= now:
            nxt += step
    return nxt


def _boundary_at(t: _dt.datetime, step: _dt.timedelta) -> _dt.datetime:
    """The last multiple of ``step`` since the epoch (UTC) at or before ``t``: for 60 s, the minute start."""
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return epoch + step * ((t - epoch) // step)


def _aligned_after(now: _dt.datetime, step: _dt.timedelta) -> _dt.datetime:
    """The next instant after ``now`` aligned to ``step`` on the hour (e.g. :00/:15/:30/:45)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    n = int((now - hour) / step) + 1
    return hour + n * step
