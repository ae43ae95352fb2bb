"""MultiSessionManager: the daily charging plan and the life of every charging session.

Planning (pure, :func:`plan_sessions`): the cheapest quarters of the known horizon that
fill the battery, grouped into at most ``max_sessions`` sessions at least ``min_gap_min``
apart. The plan is stored as ``charging_sessions`` with ``status=planned``; a session
becomes ``active`` when the rules start charging inside its window (or a new session with
``origin=decision`` starts outside any plan), and ``completed`` or ``cancelled`` with the
energy measured on the AC side (the grid meter's import less the house load, see
:mod:`gdpo.coordinator.metering`) and the cost of each quarter at its final price.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Sequence

from gdpo.coordinator.horizon import (
    cheapest_quarters,
    energy_needed_kwh,
    energy_per_quarter_kwh,
    quarters_needed,
)
from gdpo.coordinator.metering import SessionMeter
from gdpo.coordinator.model import QUARTER, Decision, Telemetry, quarter_start
from gdpo.storage.aggregate import local_midnight_utc, zone
from gdpo.storage.records import ChargingSession


@dataclass
class PlannedSession:
    """A planned run of consecutive quarters."""

    quarters: list[Any] = field(default_factory=list)

    @property
    def start(self) -> _dt.datetime:
        """Start of the first quarter (UTC)."""
        return self.quarters[0].period_start

    @property
    def end(self) -> _dt.datetime:
        """End of the last quarter (UTC)."""
        return self.quarters[-1].period_start + QUARTER

    @property
    def avg_price_pln_kwh(self) -> float:
        """Mean final price of the quarters."""
        return sum(q.final_pln_kwh for q in self.quarters) / len(self.quarters)


def group_runs(picked: Sequence[Any], all_quarters: Sequence[Any]) -> list[PlannedSession]:
    """Group picked quarters (time order) into runs of consecutive quarters."""
    runs: list[PlannedSession] = []
    for q in picked:
        if runs and q.period_start == runs[-1].end:
            runs[-1].quarters.append(q)
        else:
            runs.append(PlannedSession([q]))
    return runs


def merge_runs(runs: list[PlannedSession], all_quarters: Sequence[Any], max_sessions: int,
               min_gap: _dt.timedelta) -> list[PlannedSession]:
    """Merge runs (filling the gap with its quarters) until there are at most ``max_sessions``
    and every gap is at least ``min_gap``; the smallest gap is merged first."""
    by_start = {q.period_start: q for q in all_quarters}
    runs = list(runs)
    while len(runs) > 1:
        gaps = [(runs[i + 1].start - runs[i].end, i) for i in range(len(runs) - 1)]
        gap, i = min(gaps)
        if len(runs) <= max_sessions and gap >= min_gap:
            break
        a, b = runs[i], runs[i + 1]
        filler, t = [], a.end
        while t < b.start:
            if t in by_start:
                filler.append(by_start[t])
            t += QUARTER
        runs[i:i + 2] = [PlannedSession(a.quarters + filler + b.quarters)]
    return runs


def plan_sessions(prices: Sequence[Any], soc_pct: float, now: _dt.datetime, config: dict[str, Any]) -> list[PlannedSession]:
    """The daily plan: cheapest quarters from the next quarter to the end of the known horizon
    that take the battery from ``soc_pct`` to the plan's target, as at most ``max_sessions``
    sessions at least ``min_gap_min`` apart. ``config`` holds the coordinator sections."""
    plan, bat, ch = config["charging"]["plan"], config["battery"], config["charging"]
    first = quarter_start(now) + QUARTER
    candidates = sorted((q for q in prices if q.period_start >= first), key=lambda q: q.period_start)
    need = quarters_needed(energy_needed_kwh(soc_pct, plan["target_soc_pct"], bat["capacity_kwh"]),
                           energy_per_quarter_kwh(bat, ch))
    picked = cheapest_quarters(candidates, min(need, len(candidates)))
    runs = group_runs(picked, candidates)
    return merge_runs(runs, candidates, plan["max_sessions"], _dt.timedelta(minutes=plan["min_gap_min"]))


def local_day_bounds(now: _dt.datetime, tz: str) -> tuple[_dt.datetime, _dt.datetime]:
    """UTC start and end of the local day holding ``now``."""
    day = now.astimezone(zone(tz)).date()
    return local_midnight_utc(day, tz), local_midnight_utc(day + _dt.timedelta(days=1), tz)


class MultiSessionManager:
    """Plans sessions, starts, meters and closes them; every change is written to storage."""

    def __init__(self, storage, config: dict[str, Any]):
        self.storage = storage
        self.config = config
        self.tz = config["coordinator"]["timezone"]
        self.sessions: dict[str, ChargingSession] = {}
        self.active_id: str | None = None
        self.meter: SessionMeter | None = None
        self.plan_horizon_end: _dt.datetime | None = None
        self.interrupted_id: str | None = None  # the session a crash left active (closed as failed by load)

    # -- reading -----------------------------------------------------------------
    async def load(self, now: _dt.datetime) -> None:
        """Load the sessions of today and later (a restart picks up the plan; an ``active``
        session left by a crash is closed as ``failed``)."""
        start, _ = local_day_bounds(now, self.tz)
        for s in await self.storage.read("charging_sessions", start, now + _dt.timedelta(days=3)):
            self.sessions[s.session_id] = s
        for s in list(self.sessions.values()):
            if s.status == "active":
                self.interrupted_id = s.session_id
                await self._put(s.replace(status="failed", end_ts=now,
                                          payload={**s.payload, "end_reason": "the coordinator stopped mid-session"}))

    def today(self, now: _dt.datetime) -> list[ChargingSession]:
        """Sessions of the local day holding ``now`` (and the active one)."""
        start, end = local_day_bounds(now, self.tz)
        return [s for s in self.sessions.values() if start <= s.start_ts < end or s.status == "active"]

    @property
    def active(self) -> ChargingSession | None:
        """The active session, if any."""
        return self.sessions.get(self.active_id) if self.active_id else None

    def planned_at(self, now: _dt.datetime) -> ChargingSession | None:
        """The planned session whose window holds ``now``."""
        for s in self.sessions.values():
            if s.status == "planned" and s.start_ts <= now < (s.end_ts or s.start_ts):
                return s
        return None

    async def _put(self, record: ChargingSession) -> ChargingSession:
        self.sessions[record.session_id] = record
        await self.storage.write("charging_sessions", record)
        return record

    # -- planning ----------------------------------------------------------------
    async def replan(self, prices: Sequence[Any], soc_pct: float | None, now: _dt.datetime) -> list[ChargingSession]:
        """Make a new plan over the known horizon; planned sessions it drops are cancelled."""
        if not prices:
            return []
        soc = soc_pct if soc_pct is not None else self.config["charging"]["plan"]["assumed_soc_pct"]
        runs = plan_sessions(prices, soc, now, self.config)
        bat = self.config["battery"]
        per_q = energy_per_quarter_kwh(bat, self.config["charging"])
        need = energy_needed_kwh(soc, self.config["charging"]["plan"]["target_soc_pct"], bat["capacity_kwh"])
        new_ids, out = set(), []
        for run in runs:
            energy = min(need, per_q * len(run.quarters))
            need -= energy
            sid = f"plan:{run.start.isoformat()}"
            new_ids.add(sid)
            old = self.sessions.get(sid)
            if old is not None and old.status != "planned":
                continue
            rec = ChargingSession(
                session_id=sid, start_ts=run.start, end_ts=run.end, status="planned",
                target_soc_pct=self.config["charging"]["plan"]["target_soc_pct"], planned_energy_kwh=energy,
                avg_price_pln_kwh=run.avg_price_pln_kwh, origin="plan",
                payload={"planned_at": now.isoformat(), "soc_at_planning_pct": soc,
                         "quarters": [q.period_start.isoformat() for q in run.quarters],
                         "estimated_cost_pln": energy / bat["charge_efficiency"] * run.avg_price_pln_kwh})
            out.append(await self._put(rec))
        for s in list(self.sessions.values()):
            if s.status == "planned" and s.session_id not in new_ids and s.start_ts > now:
                await self._put(s.replace(status="cancelled",
                                          payload={**s.payload, "end_reason": "superseded by a new plan",
                                                   "cancelled_at": now.isoformat()}))
        self.plan_horizon_end = max(q.period_start for q in prices) + QUARTER
        return out

    async def expire_planned(self, now: _dt.datetime) -> None:
        """Planned sessions whose window passed without charging are cancelled."""
        for s in list(self.sessions.values()):
            if s.status == "planned" and s.end_ts is not None and s.end_ts <= now:
                await self._put(s.replace(status="cancelled",
                                          payload={**s.payload, "end_reason": "window passed: the rules did not call "
                                                   "for grid charging"}))

    # -- running -----------------------------------------------------------------
    async def start(self, decision: Decision, reading: Telemetry, quarter: Any, now: _dt.datetime) -> ChargingSession:
        """Start charging: activate the planned session of this window, or open a new one."""
        planned = self.planned_at(now)
        info = {"started_ts": now.isoformat(), "start_rule": decision.rule, "start_reason": decision.reason,
                "stop_price_pln_kwh": self.config["charging"]["high_price_cap_pln_kwh"],
                "start_soc_pct": reading.battery_soc_pct}
        if planned is not None:
            rec = planned.replace(status="active", start_ts=now, end_ts=None, target_soc_pct=decision.target_soc_pct,
                                  payload={**planned.payload, **info, "planned_start_ts": planned.start_ts.isoformat(),
                                           "planned_end_ts": planned.end_ts.isoformat() if planned.end_ts else None})
        else:
            rec = ChargingSession(session_id=f"charge:{now.isoformat()}", start_ts=now, status="active",
                                  target_soc_pct=decision.target_soc_pct, planned_energy_kwh=decision.energy_kwh,
                                  origin="decision", payload=info)
        self.active_id = rec.session_id
        self.meter = SessionMeter("import")
        self.meter.observe(reading, quarter.period_start, quarter.final_pln_kwh)
        return await self._put(rec)

    async def adopt(self, reading: Telemetry | None, quarter: Any, now: _dt.datetime, *,
                    target_soc_pct: float | None) -> ChargingSession:
        """Open an active session for a grid charge found running at start (a process that
        died mid-charge left it): measured from ``now``; the session the crash left (closed
        as ``failed``) is named in the payload."""
        reason = "grid charge found running at start: adopted after a restart, measured from now"
        lost = self.sessions.get(self.interrupted_id) if self.interrupted_id else None
        # the charge ran before the restart: its minimum run counts from its real start (the lost
        # session's), or is taken as done when that is unknown, so a price rule may stop it at once
        started = (lost.payload.get("started_ts") if lost is not None else None) or \
            (now - _dt.timedelta(minutes=self.config["charging"]["min_run_min"])).isoformat()
        rec = ChargingSession(session_id=f"charge:{now.isoformat()}", start_ts=now, status="active",
                              target_soc_pct=target_soc_pct, origin="decision",
                              payload={"started_ts": started, "measured_from_ts": now.isoformat(),
                                       "start_rule": "restart", "start_reason": reason,
                                       "adopted": True, "adopted_from": self.interrupted_id,
                                       "stop_price_pln_kwh": self.config["charging"]["high_price_cap_pln_kwh"],
                                       "start_soc_pct": reading.battery_soc_pct if reading is not None else None})
        self.active_id = rec.session_id
        self.meter = SessionMeter("import")
        if reading is not None and quarter is not None:
            self.meter.observe(reading, quarter.period_start, quarter.final_pln_kwh)
        return await self._put(rec)

    async def observe(self, reading: Telemetry, quarter: Any) -> None:
        """A new reading during the active session (booked at the price of ``quarter``)."""
        if self.meter is not None and quarter is not None:
            self.meter.observe(reading, quarter.period_start, quarter.final_pln_kwh)

    async def checkpoint(self) -> None:
        """Write the active session's running totals (each quarter)."""
        s = self.active
        if s is not None and self.meter is not None:
            await self._put(s.replace(**self._measured(), payload={**s.payload, "quarters_measured": self.meter.to_json(),
                                                                   "metering": self.meter.cross_check()}))

    def _measured(self) -> dict[str, Any]:
        m = self.meter
        return {"actual_energy_kwh": m.energy_kwh, "cost_pln": m.cost_pln, "avg_price_pln_kwh": m.avg_price_pln_kwh}

    async def finish(self, status: str, reading: Telemetry | None, now: _dt.datetime, reason: str) -> ChargingSession | None:
        """Close the active session as ``completed``/``cancelled``/``failed`` with measured values."""
        s = self.active
        if s is None:
            return None
        if reading is not None:
            self.meter.close_quarter(reading)
        rec = s.replace(status=status, end_ts=now, **self._measured(),
                        payload={**s.payload, "end_reason": reason, "quarters_measured": self.meter.to_json(),
                                 "metering": self.meter.cross_check(),
                                 "end_soc_pct": reading.battery_soc_pct if reading is not None else None})
        self.active_id, self.meter = None, None
        return await self._put(rec)
