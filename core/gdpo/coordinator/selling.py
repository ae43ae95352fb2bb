"""BatterySellingAnalytics: when to export from the battery, selling sessions, and revenue.

Selling is off by default (``selling.enabled``). Sell only at or above ``min_price_pln_kwh``,
above the SOC floor, at most ``max_sessions_per_day`` sessions a day, never in the quiet
hours (22:00-06:00 local), never while PV covers the load, and only when refilling later
costs less than the revenue (the cheapest refill price ahead divided by the round-trip
efficiency must be below the export price). Buy and sell prices are compared on one basis:
the export value (RCE, or the market price; a negative price counts 0) carries no VAT, so the
refill price is taken net of VAT when the tariff includes it (:class:`PriceBasis`). Revenue is
the export the grid meter measured in each quarter times that quarter's export value; daily
and monthly revenue come from the storage ``aggregate`` (local calendar days and months),
never from summed estimates.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from gdpo.coordinator.backtest import export_value
from gdpo.coordinator.horizon import Horizon
from gdpo.coordinator.metering import SessionMeter
from gdpo.coordinator.model import HOLD, SELL, STOP_SELL, WAIT, Decision, PriceBasis, Telemetry
from gdpo.coordinator.sessions import local_day_bounds
from gdpo.storage.aggregate import zone
from gdpo.storage.records import BatterySellingSession


def _decision(now, action, rule, reason, t, q, basis: PriceBasis, **numbers) -> Decision:
    return Decision(ts=now, action=action, rule=rule, reason=reason, decision_type="selling",
                    battery_soc_pct=t.battery_soc_pct if t is not None else None,
                    price_pln_kwh=export_value(q, basis.use_rce) if q is not None else None,
                    market_price_pln_kwh=q.market_pln_kwh if q is not None else None,
                    expected_revenue_pln=numbers.pop("expected_revenue_pln", None), numbers=numbers)


def in_quiet_hours(now: _dt.datetime, cfg: dict[str, Any], tz: str) -> bool:
    """True between ``quiet_start_hour`` and ``quiet_end_hour`` local (wrapping midnight)."""
    hour = now.astimezone(zone(tz)).hour
    start, end = cfg["quiet_start_hour"], cfg["quiet_end_hour"]
    return (start <= hour or hour < end) if start > end else (start <= hour < end)


def decide_selling(telemetry: Telemetry | None, prices: Sequence[Any], sessions_today: Sequence[Any],
                   config: dict[str, Any], now: _dt.datetime, *, active: Any | None = None,
                   basis: PriceBasis | None = None) -> Decision | None:
    """The selling decision for the quarter holding ``now``; None when selling is disabled.
    ``basis``: the tariff's VAT and the export price rule (defaults: no VAT, RCE where known)."""
    s = config["selling"]
    if not s["enabled"]:
        return None
    basis = basis or PriceBasis()
    h = Horizon(prices, now)
    q, t = h.current, telemetry
    if t is None or t.battery_soc_pct is None or q is None \
            or t.age_s(now) > config["coordinator"]["max_telemetry_age_s"]:
        return _decision(now, HOLD, "no_data", "telemetry, SOC or price unknown: no selling command", t, q, basis)
    soc, price = t.battery_soc_pct, export_value(q, basis.use_rce)
    tz = config["coordinator"]["timezone"]
    pv_covers = t.pv_power_w is not None and t.house_consumption_w is not None and t.pv_power_w >= t.house_consumption_w
    refill = h.cheapest(s["refill_lookahead_h"])
    refill_net = basis.net_buy(refill) if refill is not None else None
    refill_cost = refill_net / s["round_trip_efficiency"] if refill_net is not None else None
    numbers = {"export_price_pln_kwh": price, "refill_price_pln_kwh": refill, "refill_net_pln_kwh": refill_net,
               "refill_cost_pln_kwh": refill_cost, "price_basis": basis.to_json(),
               "min_soc_pct": s["min_soc_pct"], "power_w": s["power_w"]}
    stop_or_wait = STOP_SELL if active is not None else WAIT
    checks = (
        (in_quiet_hours(now, s, tz), "quiet_hours", f"no selling between {s['quiet_start_hour']}:00 and "
                                                     f"{s['quiet_end_hour']}:00"),
        (soc <= s["min_soc_pct"], "soc_floor", f"SOC {soc:g} % at or below the floor {s['min_soc_pct']:g} %"),
        (pv_covers, "pv_covers_load", "PV covers the load"),
        (price < s["min_price_pln_kwh"], "price_floor", f"export price {price:.3f} < {s['min_price_pln_kwh']:g} PLN/kWh"),
        (refill_cost is None or refill_cost >= price, "refill_cost",
         f"refilling costs {refill_cost if refill_cost is not None else float('nan'):.3f} PLN/kWh, not below the export "
         f"price {price:.3f}"),
    )
    for failed, rule, reason in checks:
        if failed:
            return _decision(now, stop_or_wait, rule, reason, t, q, basis, **numbers)
    if active is not None:
        ran_min = (now - active.start_ts).total_seconds() / 60
        if ran_min >= s["session_max_min"]:
            return _decision(now, STOP_SELL, "session_length", f"selling ran {ran_min:.0f} min", t, q, basis,
                             **numbers)
        return _decision(now, SELL, "selling", "selling continues", t, q, basis, **numbers)
    started = [x for x in sessions_today if x.status != "planned"]
    if len(started) >= s["max_sessions_per_day"]:
        return _decision(now, WAIT, "session_limit", f"{len(started)} selling sessions today "
                         f"(max {s['max_sessions_per_day']})", t, q, basis, **numbers)
    capacity = config["battery"]["capacity_kwh"]
    energy = min((soc - s["min_soc_pct"]) / 100 * capacity, s["power_w"] / 1000 * s["session_max_min"] / 60)
    return _decision(now, SELL, "sell", f"export {price:.3f} PLN/kWh > refill {refill_cost:.3f} PLN/kWh with SOC "
                     f"{soc:g} %", t, q, basis, expected_revenue_pln=energy * price, energy_kwh=energy, **numbers)


class BatterySellingAnalytics:
    """Selling decisions, selling sessions (measured), and revenue from the database."""

    def __init__(self, storage, config: dict[str, Any], *, basis: PriceBasis | None = None):
        self.storage = storage
        self.config = config
        self.basis = basis or PriceBasis()
        self.tz = config["coordinator"]["timezone"]
        self.sessions: dict[str, BatterySellingSession] = {}
        self.active_id: str | None = None
        self.meter: SessionMeter | None = None

    @property
    def active(self) -> BatterySellingSession | None:
        """The active selling session, if any."""
        return self.sessions.get(self.active_id) if self.active_id else None

    def today(self, now: _dt.datetime) -> list[BatterySellingSession]:
        """Selling sessions of the local day holding ``now``."""
        start, end = local_day_bounds(now, self.tz)
        return [s for s in self.sessions.values() if start <= s.start_ts < end]

    def decide(self, telemetry, prices, now) -> Decision | None:
        """The selling decision now (None when selling is disabled)."""
        return decide_selling(telemetry, prices, self.today(now), self.config, now, active=self.active,
                              basis=self.basis)

    async def _put(self, rec: BatterySellingSession) -> BatterySellingSession:
        self.sessions[rec.session_id] = rec
        await self.storage.write("battery_selling_sessions", rec)
        return rec

    async def start(self, decision: Decision, reading: Telemetry, quarter: Any, now: _dt.datetime):
        """Open a selling session."""
        rec = BatterySellingSession(session_id=f"sell:{now.isoformat()}", start_ts=now, status="active",
                                    start_soc_pct=reading.battery_soc_pct, selling_power_w=self.config["selling"]["power_w"],
                                    payload={"reason": decision.reason, "expected_revenue_pln": decision.expected_revenue_pln})
        self.active_id = rec.session_id
        self.meter = SessionMeter("export")
        self.meter.observe(reading, quarter.period_start, export_value(quarter, self.basis.use_rce))
        return await self._put(rec)

    async def observe(self, reading: Telemetry, quarter: Any) -> None:
        """A reading during the selling session (booked at the export price of ``quarter``)."""
        if self.meter is not None and quarter is not None:
            self.meter.observe(reading, quarter.period_start, export_value(quarter, self.basis.use_rce))

    async def finish(self, status: str, reading: Telemetry | None, now: _dt.datetime, reason: str):
        """Close the selling session with measured export energy and revenue."""
        s = self.active
        if s is None:
            return None
        if reading is not None:
            self.meter.close_quarter(reading)
        m = self.meter
        rec = s.replace(status=status, end_ts=now, end_soc_pct=reading.battery_soc_pct if reading else None,
                        energy_sold_kwh=m.energy_kwh, revenue_pln=m.cost_pln, avg_price_pln_kwh=m.avg_price_pln_kwh,
                        payload={**s.payload, "end_reason": reason, "quarters_measured": m.to_json(),
                                 "metering": m.cross_check()})
        self.active_id, self.meter = None, None
        return await self._put(rec)

    async def revenue(self, start: Any, end: Any, every: str = "1d") -> list[dict[str, Any]]:
        """Revenue and energy sold per local day (``1d``) or month (``1mo``), from the database."""
        return await self.storage.aggregate("battery_selling_sessions", start, end, every=every,
                                            fields={"revenue_pln": "sum", "energy_sold_kwh": "sum"}, tz=self.tz)
