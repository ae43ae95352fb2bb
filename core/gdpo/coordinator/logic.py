"""HybridChargingLogic: the charging rules of DOMAIN.md section 4 as a pure function.

``decide(telemetry, prices, sessions, config, now)`` looks only at its arguments (the
latest reading, the priced quarters of the known horizon across midnight, today's
``charging_sessions`` records, the config sections) and returns a :class:`Decision` naming
the rule that matched, why, and the numbers it used. First match wins:

0. no data: telemetry older than ``max_telemetry_age_s``, no SOC or no current price -> hold
1. battery guard: no grid charge at or below ``min_temp_c`` or at or above ``max_temp_c``
2. active session: continue to its target; stop above its stop price (fixed at its start)
   once it ran ``min_run_min`` and SOC is above critical
3. emergency (SOC < 5 %): charge to 20 % whatever the price
4. critical (SOC < 12 %): charge at <= 1.20 PLN/kWh unless a quarter >= 30 % cheaper starts
   within the allowed wait and SOC > 8 %; when any cheaper quarter (or a forecast PV surplus)
   comes within that wait, only to the emergency target (the reserve), the rest waits for it
5. PV surplus (PV - load >= 1500 W, SOC < 95 %): no grid charging by the rules below
6. super-cheap (<= 0.30 PLN/kWh or market <= 0): charge toward 100 %
7. opportunistic (SOC < 50 %): price <= 1.15 x cheapest of 12 h, or among the cheapest
   quarters needed to reach 85 % before the next expensive block; never while the current
   quarter is itself expensive (a wait, rule ``expensive_block``)
8. normal (SOC >= 50 %): below 85 %, at most 4 sessions a day, price <= 1.10 x cheapest of
   24 h and among the cheapest quarters needed to reach 95 %; not inside an expensive block
9. otherwise self-use (wait)

Rules 7 and 8 charge from the grid only when it pays (rule ``not_worth_it``): the energy
charged now must be worth more later than it costs, after the losses both ways and the wear,
``price <= charge_efficiency x discharge_efficiency x (mean of the dearest quarters it would
replace) - cycle_cost``. And they count the sun (rule ``sun_ahead``): with a PV surplus
forecast (``surplus_at``), when the surplus expected over the known horizon fills the battery
to the rule's target anyway, the grid brings only what the house draws from the battery
before the first sunny quarter (nothing when the battery already holds it).

No new session starts within ``restart_block_min`` of a stop, except in an emergency.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from gdpo.coordinator import settings
from gdpo.coordinator.horizon import (
    Horizon,
    cheapest_quarters,
    energy_needed_kwh,
    energy_per_quarter_kwh,
    quarters_needed,
)
from gdpo.coordinator.model import CHARGE, CONTINUE, HOLD, STOP, WAIT, Decision, Telemetry
from gdpo.storage.records import Record


def rule_config(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The coordinator sections with defaults filled in (``config`` may hold some sections,
    or be a ``gdpo.config.Config``)."""
    if config is not None and hasattr(config, "section"):
        return {name: config.section(name) or settings.defaults(schema)
                for name, schema in settings.SECTIONS.items()}
    out = settings.defaults()
    for name, value in (config or {}).items():
        if name in out and isinstance(value, Mapping):
            out[name] = _merge(out[name], value)
    return out


def _merge(base: dict, over: Mapping) -> dict:
    merged = dict(base)
    for k, v in over.items():
        merged[k] = _merge(base[k], v) if isinstance(v, Mapping) and isinstance(base.get(k), dict) else v
    return merged


def _field(session: Any, name: str) -> Any:
    if isinstance(session, Record):
        return getattr(session, name)
    return session.get(name)


@dataclass(frozen=True)
class ChargingState:
    """What today's sessions tell the rules: the active one, the last stop, the count."""

    active: Any | None
    last_stop: _dt.datetime | None
    started_today: int

    @classmethod
    def from_sessions(cls, sessions: Iterable[Any]) -> "ChargingState":
        """Derive the state from ``charging_sessions`` records (or mappings)."""
        active, last_stop, started = None, None, 0
        for s in sessions:
            status = _field(s, "status")
            if status == "active":
                active = s
            if status in ("active", "completed", "cancelled", "failed") and _started(s):
                started += 1
            end = _field(s, "end_ts")
            if status in ("completed", "cancelled", "failed") and end is not None and _started(s):
                last_stop = end if last_stop is None else max(last_stop, end)
        return cls(active, last_stop, started)


def _started(session: Any) -> bool:
    payload = _field(session, "payload") or {}
    return _field(session, "status") == "active" or payload.get("started_ts") is not None \
        or _field(session, "origin") == "decision"


class _Ctx:
    """Everything one evaluation needs, computed once."""

    def __init__(self, telemetry, prices, sessions, config, now, pv_forecast_w, surplus_at=None):
        self.cfg = rule_config(config)
        self.ch = self.cfg["charging"]
        self.bat = self.cfg["battery"]
        self.t = telemetry
        self.now = now
        self.horizon = Horizon(prices, now)
        self.q = self.horizon.current
        self.state = ChargingState.from_sessions(sessions)
        self.soc = telemetry.battery_soc_pct if telemetry is not None else None
        self.price = self.q.final_pln_kwh if self.q is not None else None
        self.market = self.q.market_pln_kwh if self.q is not None else None
        self.pv_forecast_w = pv_forecast_w
        self.surplus_at = surplus_at
        self.per_q = energy_per_quarter_kwh(self.bat, self.ch)

    def decision(self, action: str, rule: str, reason: str, target: float | None = None, **numbers) -> Decision:
        """A decision with the common numbers and, for a charge, its energy, cost and savings."""
        energy = cost = savings = None
        if action == CHARGE and target is not None and self.soc is not None:
            energy = energy_needed_kwh(self.soc, target, self.bat["capacity_kwh"]) / self.bat["charge_efficiency"]
            if self.price is not None:
                cost = energy * self.price
                avg = _avg(q.final_pln_kwh for q in self.horizon.upcoming(24))
                if avg is not None:
                    savings = energy * (avg - self.price)
        base = {"capacity_kwh": self.bat["capacity_kwh"], "energy_per_quarter_kwh": round(self.per_q, 4),
                "horizon_end": self.horizon.end.isoformat() if self.horizon.end else None,
                "quarters_known": len(self.horizon.upcoming()),
                "sessions_started_today": self.state.started_today,
                "telemetry_ts": self.t.ts.isoformat() if self.t is not None else None,
                "pv_surplus_w": self.t.pv_surplus_w if self.t is not None else None,
                "quarter_start": self.q.period_start.isoformat() if self.q is not None else None}
        base.update(numbers)
        return Decision(ts=self.now, action=action, rule=rule, reason=reason, target_soc_pct=target,
                        battery_soc_pct=self.soc, price_pln_kwh=self.price, market_price_pln_kwh=self.market,
                        energy_kwh=energy, estimated_cost_pln=cost, estimated_savings_pln=savings,
                        numbers=base)

    def among_cheapest_to_reach(self, target: float, until: _dt.datetime | None, hours: float | None) -> tuple[bool, int]:
        """Is the current quarter among the cheapest quarters needed to reach ``target``?"""
        need = quarters_needed(energy_needed_kwh(self.soc, target, self.bat["capacity_kwh"]), self.per_q)
        picked = cheapest_quarters(self.horizon.upcoming(hours, until=until), need)
        return any(q.period_start == self.q.period_start for q in picked), need

    def sun_ahead_kwh(self, hours: float | None) -> float:
        """Battery energy the forecast PV surplus is expected to bring after this quarter and
        within ``hours``, kWh; 0 without a forecast."""
        if self.surplus_at is None:
            return 0.0
        total = 0.0
        limit_kw = self.bat["max_charge_power_w"] / 1000
        for q in self.horizon.upcoming(hours):
            if q.period_start <= self.q.period_start:
                continue
            surplus_kw = self.surplus_at(q.period_start)
            if surplus_kw is not None and surplus_kw > 0:
                total += min(surplus_kw, limit_kw) * 0.25 * self.bat["charge_efficiency"]
        return total

    def deficit_before_sun_kwh(self, hours: float | None) -> float:
        """Battery energy the house is expected to draw from after this quarter until the first
        quarter with a forecast PV surplus (within ``hours``), kWh."""
        total = 0.0
        for q in self.horizon.upcoming(hours):
            if q.period_start <= self.q.period_start:
                continue
            surplus_kw = self.surplus_at(q.period_start)
            if surplus_kw is None:
                continue
            if surplus_kw > 0:
                break
            total += -surplus_kw * 0.25 / self.cfg["optimiser"]["discharge_efficiency"]
        return total

    def grid_target(self, target: float) -> tuple[float, float]:
        """The SOC the grid should bring the battery to, and the forecast sun of the known
        horizon: the rule's ``target``, or, when the forecast PV surplus fills the battery to it
        anyway, only what the house draws before the sun (above the critical level)."""
        sun = self.sun_ahead_kwh(None)
        capacity = self.bat["capacity_kwh"]
        if sun <= 0 or sun < energy_needed_kwh(self.soc, target, capacity):
            return target, sun
        floor = max(self.ch["critical"]["soc_pct"], self.cfg["optimiser"]["min_soc_pct"])
        available = max(self.soc - floor, 0.0) / 100 * capacity
        need = self.deficit_before_sun_kwh(None) - available
        if need <= 0:
            return self.soc, sun
        return min(target, math.ceil(self.soc + need / capacity * 100)), sun

    def worth_charging(self, target: float, hours: float) -> tuple[bool, float]:
        """Whether a grid charge now pays: (yes/no, the price at which it breaks even). The
        energy it stores replaces the dearest quarters of the look-ahead, as many as it takes
        to discharge it at the charge power."""
        count = max(1, quarters_needed(energy_needed_kwh(self.soc, target, self.bat["capacity_kwh"]), self.per_q))
        later = sorted((q.final_pln_kwh for q in self.horizon.upcoming(hours)
                        if q.period_start > self.q.period_start), reverse=True)[:count]
        if not later:
            return False, float("-inf")
        opt = self.cfg["optimiser"]
        breakeven = (self.bat["charge_efficiency"] * opt["discharge_efficiency"] * sum(later) / len(later)
                     - opt["cycle_cost_pln_kwh"])
        return self.price <= breakeven, breakeven

    def restart_blocked(self) -> bool:
        """True within ``restart_block_min`` of the last stop."""
        last = self.state.last_stop
        return last is not None and self.now - last < _dt.timedelta(minutes=self.ch["restart_block_min"])


def _avg(values) -> float | None:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def decide(telemetry: Telemetry | None, prices: Sequence[Any], sessions: Sequence[Any],
           config: Mapping[str, Any] | None, now: _dt.datetime, *, pv_forecast_w: float | None = None,
           surplus_at: Callable[[_dt.datetime], float | None] | None = None) -> Decision:
    """Decide what the battery does in the quarter holding ``now`` (see the module docstring).
    ``surplus_at(quarter_start)`` is the forecast PV surplus (PV - load) of a quarter, kW."""
    c = _Ctx(telemetry, prices, sessions, config, now, pv_forecast_w, surplus_at)
    for rule in RULES:
        result = rule(c)
        if result is not None:
            return result
    return c.decision(WAIT, "self_use", "no rule asks for grid charging: self-use")


# --------------------------------------------------------------------------- the rules


def rule_no_data(c: _Ctx) -> Decision | None:
    """0. Stale telemetry, no SOC or no current price: command nothing."""
    max_age = c.cfg["coordinator"]["max_telemetry_age_s"]
    if c.t is None:
        return c.decision(HOLD, "no_data", "no telemetry yet: no command")
    if c.t.age_s(c.now) > max_age:
        return c.decision(HOLD, "no_data", f"telemetry is {c.t.age_s(c.now):.0f} s old (> {max_age:.0f} s): no command",
                          telemetry_age_s=c.t.age_s(c.now))
    if c.soc is None:
        return c.decision(HOLD, "no_data", "battery SOC unknown: no command")
    if c.price is None:
        return c.decision(HOLD, "no_data", "no price known for this quarter: no command (self-use)")
    return None


def rule_battery_guard(c: _Ctx) -> Decision | None:
    """1. Never grid-charge at or beyond the battery temperature limits."""
    temp = c.t.battery_temp_c
    lo, hi = c.bat["min_temp_c"], c.bat["max_temp_c"]
    if temp is None or lo < temp < hi:
        return None
    action = STOP if c.state.active is not None else WAIT
    return c.decision(action, "battery_guard", f"battery at {temp:.1f} C is outside {lo:g}..{hi:g} C: no grid charging",
                      battery_temp_c=temp)


def rule_active_session(c: _Ctx) -> Decision | None:
    """2. An active session runs to its target; it stops early only above its stop price."""
    s = c.state.active
    if s is None:
        return None
    target = _field(s, "target_soc_pct") or c.ch["normal"]["target_soc_pct"]
    payload = _field(s, "payload") or {}
    stop_price = payload.get("stop_price_pln_kwh", c.ch["high_price_cap_pln_kwh"])
    started = payload.get("started_ts")
    started = _dt.datetime.fromisoformat(started) if isinstance(started, str) else (started or _field(s, "start_ts"))
    ran_min = (c.now - started).total_seconds() / 60
    numbers = {"session_id": _field(s, "session_id"), "stop_price_pln_kwh": stop_price, "ran_min": round(ran_min, 2)}
    if c.soc >= target:
        return c.decision(STOP, "active_session", f"target {target:g} % reached (SOC {c.soc:g} %)", target, **numbers)
    critical = c.ch["critical"]["soc_pct"]
    if c.price > stop_price and c.soc > critical:
        if ran_min >= c.ch["min_run_min"]:
            return c.decision(STOP, "active_session",
                              f"price {c.price:.3f} above the session's stop price {stop_price:.3f} PLN/kWh",
                              target, **numbers)
        return c.decision(CONTINUE, "active_session",
                          f"price above the stop price but the session ran only {ran_min:.0f} min "
                          f"(minimum {c.ch['min_run_min']:g})", target, **numbers)
    return c.decision(CONTINUE, "active_session", f"charging toward {target:g} % (SOC {c.soc:g} %)", target, **numbers)


def rule_emergency(c: _Ctx) -> Decision | None:
    """3. SOC below the emergency level: charge now, whatever the price."""
    e = c.ch["emergency"]
    if c.soc >= e["soc_pct"]:
        return None
    return c.decision(CHARGE, "emergency", f"SOC {c.soc:g} % < {e['soc_pct']:g} %: charge to {e['target_soc_pct']:g} % "
                      f"at any price", e["target_soc_pct"])


def _blocked(c: _Ctx, rule: str) -> Decision:
    return c.decision(WAIT, rule, f"would charge, but a session stopped at {c.state.last_stop.isoformat()}, less than "
                      f"{c.ch['restart_block_min']:g} min ago", last_stop=c.state.last_stop.isoformat())


def allowed_wait_h(soc: float, crit: Mapping[str, Any]) -> float:
    """Hours a critical battery may wait for a cheaper quarter: the base wait at the critical
    SOC, shrinking linearly toward the no-wait SOC, clamped to ``min_wait_h..max_wait_h``."""
    span = crit["soc_pct"] - crit["min_soc_to_wait_pct"]
    share = 1.0 if span <= 0 else (soc - crit["min_soc_to_wait_pct"]) / span
    return max(crit["min_wait_h"], min(crit["max_wait_h"], crit["base_wait_h"] * share))


def rule_critical(c: _Ctx) -> Decision | None:
    """4. Critical SOC: charge at an acceptable price unless a much cheaper quarter is near."""
    k = c.ch["critical"]
    if c.soc >= k["soc_pct"]:
        return None
    if c.price > k["max_price_pln_kwh"]:
        return c.decision(WAIT, "critical", f"SOC {c.soc:g} % is critical but price {c.price:.3f} > "
                          f"{k['max_price_pln_kwh']:g} PLN/kWh: wait", max_price_pln_kwh=k["max_price_pln_kwh"])
    wait_h = allowed_wait_h(c.soc, k)
    if c.soc > k["min_soc_to_wait_pct"]:
        limit = c.price * (1 - k["cheaper_by_pct"] / 100)
        cheaper = [q for q in c.horizon.upcoming(wait_h) if q.period_start > c.q.period_start
                   and q.final_pln_kwh <= limit]
        if cheaper:
            q = cheaper[0]
            return c.decision(WAIT, "critical", f"SOC {c.soc:g} % is critical; {q.final_pln_kwh:.3f} PLN/kWh at "
                              f"{q.period_start.isoformat()} is >= {k['cheaper_by_pct']:g} % cheaper and within "
                              f"{wait_h:.1f} h: wait", allowed_wait_h=wait_h, cheaper_at=q.period_start.isoformat(),
                              cheaper_price_pln_kwh=q.final_pln_kwh)
    if c.restart_blocked():
        return _blocked(c, "critical")
    target, why = k["target_soc_pct"], ""
    cheaper = [q for q in c.horizon.upcoming(wait_h) if q.period_start > c.q.period_start and q.final_pln_kwh < c.price]
    sun = c.sun_ahead_kwh(wait_h)
    reserve = c.ch["emergency"]["target_soc_pct"]
    if (cheaper or sun > 0) and reserve < target:
        # Cheaper quarters or the sun come within the wait: now only the reserve, the rest from them.
        target = reserve
        later = (f"{min(q.final_pln_kwh for q in cheaper):.3f} PLN/kWh" if cheaper
                 else f"a forecast PV surplus of {sun:.1f} kWh")
        why = f"; only to the {reserve:g} % reserve: {later} comes within {wait_h:.1f} h"
    return c.decision(CHARGE, "critical", f"SOC {c.soc:g} % < {k['soc_pct']:g} % and price {c.price:.3f} <= "
                      f"{k['max_price_pln_kwh']:g} PLN/kWh{why}", target, allowed_wait_h=wait_h)


def rule_pv_surplus(c: _Ctx) -> Decision | None:
    """5. PV covers the load with room to spare: the sun charges the battery, not the grid."""
    p = c.ch["pv_surplus"]
    if c.soc >= p["max_soc_pct"]:
        return None
    surplus = c.t.pv_surplus_w
    source = "measured"
    if surplus is None and c.pv_forecast_w is not None and c.t.house_consumption_w is not None:
        surplus, source = c.pv_forecast_w - c.t.house_consumption_w, "forecast"
    if surplus is None or surplus < p["min_surplus_w"]:
        return None
    return c.decision(WAIT, "pv_surplus", f"{source} PV surplus {surplus:.0f} W >= {p['min_surplus_w']:g} W with SOC "
                      f"{c.soc:g} %: no grid charging", pv_surplus_source=source)


def rule_super_cheap(c: _Ctx) -> Decision | None:
    """6. Very cheap (or negative market) price: fill the battery."""
    s = c.ch["super_cheap"]
    if not (c.price <= s["max_price_pln_kwh"] or c.market <= s["max_market_price_pln_kwh"]):
        return None
    if c.soc >= s["target_soc_pct"]:
        return None
    if c.restart_blocked():
        return _blocked(c, "super_cheap")
    return c.decision(CHARGE, "super_cheap", f"price {c.price:.3f} PLN/kWh (market {c.market:.3f}) is super-cheap: "
                      f"charge to {s['target_soc_pct']:g} %", s["target_soc_pct"])


def next_expensive_start(c: _Ctx, hours: float, threshold: float) -> _dt.datetime | None:
    """The start of the first quarter after the current one priced at or above ``threshold``."""
    for q in c.horizon.upcoming(hours):
        if q.period_start > c.q.period_start and q.final_pln_kwh >= threshold:
            return q.period_start
    return None


def inside_expensive_block(c: _Ctx) -> Decision | None:
    """A wait when the current quarter is itself expensive: above the critical level (rules 3
    and 4 come first) no rule grid-charges inside an expensive block."""
    threshold = c.ch["opportunistic"]["expensive_price_pln_kwh"]
    if c.price < threshold:
        return None
    return c.decision(WAIT, "expensive_block", f"SOC {c.soc:g} %: price {c.price:.3f} >= {threshold:g} PLN/kWh, "
                      "inside an expensive block: no grid charging above the critical level",
                      expensive_price_pln_kwh=threshold)


def _grid_charge_target(c: _Ctx, rule: str, target: float, hours: float,
                        numbers: dict[str, Any]) -> tuple[float, Decision | None]:
    """The SOC a grid charge of ``rule`` should reach (the sun may lower it), or a wait when the
    sun fills the battery anyway, or when the charge costs more than the energy is worth
    later (after the losses both ways and the wear)."""
    grid_target, sun = c.grid_target(target)
    numbers["sun_ahead_kwh"] = round(sun, 3)
    if grid_target <= c.soc:
        return target, c.decision(WAIT, "sun_ahead", f"SOC {c.soc:g} %: the forecast PV surplus brings {sun:.1f} kWh "
                                  "over the known horizon and the battery covers the house until then: no grid "
                                  "charging", **numbers)
    worth, breakeven = c.worth_charging(grid_target, hours)
    if not worth:
        return target, c.decision(WAIT, "not_worth_it", f"SOC {c.soc:g} %: price {c.price:.3f} PLN/kWh is above "
                                  f"{breakeven:.3f}, what the stored energy saves later after losses and wear: "
                                  "no grid charging", breakeven_pln_kwh=round(breakeven, 4), **numbers)
    if grid_target < target:
        numbers["rule_target_soc_pct"] = target
    return grid_target, None


def rule_opportunistic(c: _Ctx) -> Decision | None:
    """7. Half-empty battery: take a price close to the cheapest ahead, or a needed cheap quarter;
    never inside an expensive block."""
    o = c.ch["opportunistic"]
    if c.soc >= o["max_soc_pct"]:
        return None
    blocked = inside_expensive_block(c)
    if blocked is not None:
        return blocked
    cheapest = c.horizon.cheapest(o["lookahead_h"])
    limit = cheapest * o["cheapest_factor"] if cheapest >= 0 else cheapest / o["cheapest_factor"]
    expensive = next_expensive_start(c, o["lookahead_h"], o["expensive_price_pln_kwh"])
    numbers = {"cheapest_pln_kwh": cheapest, "limit_pln_kwh": limit,
               "expensive_block_at": expensive.isoformat() if expensive else None}
    target, refused = _grid_charge_target(c, "opportunistic", o["target_soc_pct"], o["lookahead_h"], numbers)
    needed, count = c.among_cheapest_to_reach(target, expensive, o["lookahead_h"])
    numbers["quarters_needed"] = count
    if c.price <= limit or needed:
        if refused is not None:
            return refused
        if c.restart_blocked():
            return _blocked(c, "opportunistic")
        why = (f"price {c.price:.3f} <= {o['cheapest_factor']:g} x cheapest {cheapest:.3f} of {o['lookahead_h']:g} h"
               if c.price <= limit else f"among the {count} cheapest quarters needed to reach {target:g} % "
               "before the next expensive block")
        if target < o["target_soc_pct"]:
            why += f"; to {target:g} %, the forecast sun brings the rest"
        return c.decision(CHARGE, "opportunistic", f"SOC {c.soc:g} % < {o['max_soc_pct']:g} %: {why}",
                          target, **numbers)
    return c.decision(WAIT, "opportunistic", f"SOC {c.soc:g} %: price {c.price:.3f} > {limit:.3f} and a cheaper quarter "
                      "ahead is enough", **numbers)


def rule_normal(c: _Ctx) -> Decision | None:
    """8. Well-charged battery: top up only in the cheapest quarters of the day ahead."""
    n = c.ch["normal"]
    if c.soc >= n["max_start_soc_pct"]:
        return None
    if inside_expensive_block(c) is not None:
        return None
    if c.state.started_today >= n["max_sessions_per_day"]:
        return c.decision(WAIT, "normal", f"{c.state.started_today} sessions today (max {n['max_sessions_per_day']})")
    cheapest = c.horizon.cheapest(n["lookahead_h"])
    limit = cheapest * n["cheapest_factor"] if cheapest >= 0 else cheapest / n["cheapest_factor"]
    numbers = {"cheapest_pln_kwh": cheapest, "limit_pln_kwh": limit}
    target, refused = _grid_charge_target(c, "normal", n["target_soc_pct"], n["lookahead_h"], numbers)
    needed, count = c.among_cheapest_to_reach(target, None, n["lookahead_h"])
    numbers["quarters_needed"] = count
    if c.price <= limit and needed:
        if refused is not None:
            return refused
        if c.restart_blocked():
            return _blocked(c, "normal")
        return c.decision(CHARGE, "normal", f"price {c.price:.3f} <= {n['cheapest_factor']:g} x cheapest {cheapest:.3f} "
                          f"of {n['lookahead_h']:g} h and among the {count} cheapest quarters to reach "
                          f"{target:g} %", target, **numbers)
    return None


RULES = (rule_no_data, rule_battery_guard, rule_active_session, rule_emergency, rule_critical, rule_pv_surplus,
         rule_super_cheap, rule_opportunistic, rule_normal)


class HybridChargingLogic:
    """The charging rules bound to one configuration (see :func:`decide`)."""

    def __init__(self, config: Mapping[str, Any] | None = None):
        self.config = rule_config(config)

    def decide(self, telemetry: Telemetry | None, prices: Sequence[Any], sessions: Sequence[Any],
               now: _dt.datetime, *, pv_forecast_w: float | None = None,
               surplus_at: Callable[[_dt.datetime], float | None] | None = None) -> Decision:
        """Decide for the quarter holding ``now``."""
        return decide(telemetry, prices, sessions, self.config, now, pv_forecast_w=pv_forecast_w,
                      surplus_at=surplus_at)
