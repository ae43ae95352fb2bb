"""Value types the coordinator's rules work on: telemetry, a priced quarter, a decision.

Telemetry uses gdpo's sign convention (``grid_power_w`` > 0 import, ``battery_power_w`` > 0
charging). A value that could not be read is None ("unknown"), never 0.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Protocol

from gdpo.storage.records import UTC, Record

QUARTER = _dt.timedelta(minutes=15)

# Decision actions: what the executor is asked to do.
CHARGE = "charge"        # start a grid charge toward target_soc_pct
CONTINUE = "continue"    # an active session goes on (no new command needed)
STOP = "stop"            # end the active session, back to self-use
WAIT = "wait"            # no grid charging now (self-use)
HOLD = "hold"            # inputs unknown: command nothing, change nothing
SELL = "sell"            # export from the battery
STOP_SELL = "stop_sell"  # end a selling session
CHARGING_ACTIONS = (CHARGE, CONTINUE)


class PriceQuarterLike(Protocol):
    """What the rules need of one priced quarter (``gdpo.prices`` ``QuarterPrice`` fits)."""

    period_start: _dt.datetime
    market_pln_kwh: float
    final_pln_kwh: float


@dataclass(frozen=True)
class PriceQuarter:
    """A priced quarter-hour: UTC start, market and final buy price (PLN/kWh)."""

    period_start: _dt.datetime
    market_pln_kwh: float
    final_pln_kwh: float
    tariff_zone: str | None = None
    is_sample: bool = False
    export_pln_kwh: float | None = None
    period_minutes: int = 15


def export_price(q: Any) -> float:
    """The export value of a quarter: its rce price when known, else its market price."""
    value = getattr(q, "export_pln_kwh", None)
    return float(q.market_pln_kwh if value is None else value)


@dataclass(frozen=True)
class PriceBasis:
    """How buy and sell prices compare. The final buy price includes VAT when the tariff says
    so (``tariffs.include_vat``); the export value (RCE, or the market price) never does, so a
    comparison takes the buy price net of VAT (:meth:`net_buy`). ``use_rce``: the export value
    is the quarter's RCE where known (``prices.export_prices``), else its market price."""

    include_vat: bool = False
    vat_rate_pct: float = 23.0
    use_rce: bool = True

    @classmethod
    def of(cls, prices: Any) -> "PriceBasis":
        """The basis of a price service (its tariff's VAT and whether it fetches RCE); the
        defaults for anything else."""
        from gdpo.prices.model import SOURCE_EXPORT

        tariff = getattr(prices, "tariff", None)
        sources = getattr(prices, "sources", None)
        return cls(include_vat=bool(getattr(tariff, "include_vat", False)),
                   vat_rate_pct=float(getattr(tariff, "vat_rate_pct", 23.0)),
                   use_rce=True if sources is None else SOURCE_EXPORT in sources)

    def net_buy(self, final_pln_kwh: float) -> float:
        """A final buy price without its VAT (itself when the tariff adds none), PLN/kWh."""
        return final_pln_kwh / (1 + self.vat_rate_pct / 100) if self.include_vat else final_pln_kwh

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (kept with the figures it priced)."""
        return {"buy_includes_vat": self.include_vat, "vat_rate_pct": self.vat_rate_pct,
                "export_price": "rce" if self.use_rce else "market", "compared": "net of VAT"}


@dataclass(frozen=True)
class Telemetry:
    """One inverter reading in gdpo signs; None means unknown."""

    ts: _dt.datetime
    battery_soc_pct: float | None = None
    battery_temp_c: float | None = None
    battery_power_w: float | None = None
    pv_power_w: float | None = None
    house_consumption_w: float | None = None
    grid_power_w: float | None = None
    grid_import_total_kwh: float | None = None
    grid_export_total_kwh: float | None = None
    battery_charge_kwh: float | None = None      # a battery charge energy counter (day or total)
    battery_discharge_kwh: float | None = None
    pv_energy_today_kwh: float | None = None
    house_consumption_total_kwh: float | None = None

    BATTERY_CHARGE_KEYS = ("battery_charge_total_kwh", "e_bat_charge_total", "battery_charge_today_kwh",
                           "e_bat_charge_day")
    BATTERY_DISCHARGE_KEYS = ("battery_discharge_total_kwh", "e_bat_discharge_total",
                              "battery_discharge_today_kwh", "e_bat_discharge_day")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | Record) -> "Telemetry":
        """Build from an ``energy_data`` record or mapping (battery counters may sit in payload)."""
        values = data.to_dict() if isinstance(data, Record) else dict(data)
        payload = values.get("payload") or {}
        merged = {**payload, **{k: v for k, v in values.items() if v is not None}}
        ts = merged.get("ts") or merged.get("timestamp")
        if isinstance(ts, str):
            ts = _dt.datetime.fromisoformat(ts)
        if ts is None or ts.tzinfo is None:
            raise ValueError("telemetry needs a timezone-aware 'ts'")

        def pick(keys):
            for k in keys:
                if merged.get(k) is not None:
                    return float(merged[k])
            return None

        names = [f for f in cls.__dataclass_fields__ if f not in ("ts", "battery_charge_kwh", "battery_discharge_kwh")]
        kwargs = {n: (float(merged[n]) if merged.get(n) is not None else None) for n in names}
        return cls(ts=ts.astimezone(UTC), battery_charge_kwh=pick(cls.BATTERY_CHARGE_KEYS),
                   battery_discharge_kwh=pick(cls.BATTERY_DISCHARGE_KEYS), **kwargs)

    @property
    def pv_surplus_w(self) -> float | None:
        """PV minus house load, W (None when either is unknown)."""
        if self.pv_power_w is None or self.house_consumption_w is None:
            return None
        return self.pv_power_w - self.house_consumption_w

    def age_s(self, now: _dt.datetime) -> float:
        """Seconds since this reading."""
        return (now - self.ts).total_seconds()


@dataclass(frozen=True)
class Decision:
    """The outcome of one decision tick: what to do, which rule said so, why, and the numbers."""

    ts: _dt.datetime
    action: str
    rule: str
    reason: str
    decision_type: str = "charging"
    target_soc_pct: float | None = None
    battery_soc_pct: float | None = None
    price_pln_kwh: float | None = None
    market_price_pln_kwh: float | None = None
    energy_kwh: float | None = None
    estimated_cost_pln: float | None = None
    estimated_savings_pln: float | None = None
    expected_revenue_pln: float | None = None
    confidence: float = 1.0
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def is_charging(self) -> bool:
        """True when the decision wants the battery charging from the grid now."""
        return self.action in CHARGING_ACTIONS

    def to_payload(self) -> dict[str, Any]:
        """The whole decision as a JSON-ready dict."""
        out = asdict(self)
        out["ts"] = self.ts.isoformat()
        return out

    def to_record(self, source_module: str = "gdpo.coordinator.logic") -> dict[str, Any]:
        """The ``coordinator_decisions`` record of this decision (full decision in payload)."""
        return {
            "ts": self.ts, "decision_type": self.decision_type, "action": self.action,
            "reason": f"[{self.rule}] {self.reason}", "confidence": max(0.0, min(1.0, self.confidence)),
            "battery_soc_pct": self.battery_soc_pct, "price_pln_kwh": self.price_pln_kwh,
            "energy_kwh": self.energy_kwh, "estimated_cost_pln": self.estimated_cost_pln,
            "estimated_savings_pln": self.estimated_savings_pln,
            "expected_revenue_pln": self.expected_revenue_pln, "source_module": source_module,
            "payload": self.to_payload(),
        }


def quarter_start(t: _dt.datetime) -> _dt.datetime:
    """The start of the quarter-hour holding ``t`` (UTC)."""
    t = t.astimezone(UTC)
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)
