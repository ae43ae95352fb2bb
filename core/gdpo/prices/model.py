"""Value types of the price component: a day of market prices and a priced quarter-hour."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from gdpo.prices.timeline import to_local

SOURCE_DAY_AHEAD = "csdac-pln"
SOURCE_EXPORT = "rce-pln"
PRICE_FIELDS = {SOURCE_DAY_AHEAD: "csdac_pln", SOURCE_EXPORT: "rce_pln"}


@dataclass(frozen=True)
class MarketQuarter:
    """The market price of one quarter-hour, PLN/kWh, keyed by its START instant (UTC)."""

    period_start: _dt.datetime
    price_pln_kwh: float
    source_period_minutes: int = 15  # 60 when it was expanded from an hourly price


@dataclass(frozen=True)
class MarketDay:
    """Every quarter-hour of one business (local delivery) day, complete and in order."""

    business_date: _dt.date
    source: str
    quarters: tuple[MarketQuarter, ...]
    published_at: _dt.datetime | None = None
    is_sample: bool = False
    origin: str = "pse"  # pse (fetched now), storage, or sample

    def by_start(self) -> dict[_dt.datetime, MarketQuarter]:
        """The quarters keyed by their UTC start."""
        return {q.period_start: q for q in self.quarters}


@dataclass(frozen=True)
class QuarterPrice:
    """A quarter-hour with its market and final buy price, as the coordinator uses it.

    ``period_start`` is the UTC START of the quarter; prices are PLN/kWh; ``tariff_zone``
    is the distribution zone in force at the start; ``is_sample`` marks bundled sample
    data (``--simulate``), never real market prices. ``export_pln_kwh`` is the rce-pln
    export value when it is fetched, else None.
    """

    period_start: _dt.datetime
    period_minutes: int
    market_pln_kwh: float
    final_pln_kwh: float
    tariff_zone: str
    distribution_pln_kwh: float
    is_sample: bool = False
    source: str = SOURCE_DAY_AHEAD
    export_pln_kwh: float | None = field(default=None)

    @property
    def period_end(self) -> _dt.datetime:
        """The UTC end of the quarter (exclusive)."""
        return self.period_start + _dt.timedelta(minutes=self.period_minutes)

    @property
    def local_start(self) -> _dt.datetime:
        """The start in local (Europe/Warsaw) time."""
        return to_local(self.period_start)

    def covers(self, instant: _dt.datetime) -> bool:
        """True if ``instant`` lies in ``[period_start, period_end)``."""
        return self.period_start <= instant < self.period_end

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``period_start`` as UTC ISO, prices in PLN/kWh."""
        out = {
            "period_start": self.period_start.isoformat().replace("+00:00", "Z"),
            "local_start": self.local_start.isoformat(),
            "period_minutes": self.period_minutes,
            "market_pln_kwh": round(self.market_pln_kwh, 6),
            "final_pln_kwh": round(self.final_pln_kwh, 6),
            "tariff_zone": self.tariff_zone,
            "distribution_pln_kwh": self.distribution_pln_kwh,
            "source": self.source,
            "is_sample": self.is_sample,
        }
        if self.export_pln_kwh is not None:
            out["export_pln_kwh"] = round(self.export_pln_kwh, 6)
        return out
