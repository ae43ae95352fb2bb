"""Distribution tariffs and the final buy price of a quarter-hour.

``final_pln_kwh = market_pln_kwh + sc_component + distribution(tariff, zone)``, times
``1 + VAT`` when ``include_vat`` is set. The zone is chosen by the local time of the
period START (``start <= t < end``), so the quarter 21:45-22:00 is still in a zone that
ends at 22:00. Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from gdpo.config import ConfigError
from gdpo.prices.holidays import is_free_day
from gdpo.prices.settings import TARIFF_NAMES
from gdpo.prices.timeline import to_local

Ranges = tuple[tuple[int, int], ...]  # (start minute, end minute) of the local day

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class Zone:
    """A tariff zone in force: its name and the distribution rate, PLN/kWh."""

    name: str
    distribution_pln_kwh: float


@dataclass(frozen=True)
class FlatRule:
    """g11: one rate all the time."""

    rate: float

    def zone(self, local: _dt.datetime, free_day: bool) -> Zone:
        return Zone("flat", self.rate)


@dataclass(frozen=True)
class TwoZoneRule:
    """g12, g12w, g12as: peak hours and off-peak otherwise (optionally off-peak on free days)."""

    peak: float
    off_peak: float
    peak_hours: Ranges
    weekend_off_peak: bool

    def zone(self, local: _dt.datetime, free_day: bool) -> Zone:
        if not (self.weekend_off_peak and free_day) and _in_ranges(local, self.peak_hours):
            return Zone("peak", self.peak)
        return Zone("off_peak", self.off_peak)


@dataclass(frozen=True)
class G13sSeason:
    """The hours and rates of one g13s season."""

    peak: float
    off_peak: float
    night: float
    peak_hours: Ranges
    off_peak_hours: Ranges


@dataclass(frozen=True)
class G13sRule:
    """g13s: peak, daytime off-peak and night zones by season; one rate all day on free days."""

    summer_months: frozenset[int]
    summer: G13sSeason
    winter: G13sSeason
    weekend: float

    def zone(self, local: _dt.datetime, free_day: bool) -> Zone:
        if free_day:
            return Zone("weekend", self.weekend)
        season = self.summer if local.month in self.summer_months else self.winter
        if _in_ranges(local, season.peak_hours):
            return Zone("peak", season.peak)
        if _in_ranges(local, season.off_peak_hours):
            return Zone("off_peak", season.off_peak)
        return Zone("night", season.night)


@dataclass(frozen=True)
class TariffConfig:
    """Everything the final price needs: the tariff's rule, the SC component and VAT."""

    name: str
    rule: FlatRule | TwoZoneRule | G13sRule
    sc_component_pln_kwh: float = 0.0892
    include_vat: bool = False
    vat_rate_pct: float = 23.0
    extra_holidays: frozenset[_dt.date] = frozenset()

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None = None, tariff: str | None = None) -> "TariffConfig":
        """Build from the ``tariffs`` config section (defaults filled by the config loader);
        ``tariff`` overrides ``tariffs.tariff``. A bad value raises ``ConfigError`` naming its key."""
        from gdpo.config import load_config

        if section is None or any(k not in section for k in ("g11", "g12", "g12w", "g12as", "g13s")):
            section = load_config({"tariffs": dict(section or {})}).section("tariffs")
        name = (tariff or section["tariff"]).lower()
        if name not in TARIFF_NAMES:
            raise ConfigError(f"tariffs.tariff: unknown tariff {name!r}; use one of {', '.join(TARIFF_NAMES)}")
        return cls(
            name=name,
            rule=_rule(name, section[name]),
            sc_component_pln_kwh=float(section["sc_component_pln_kwh"]),
            include_vat=bool(section["include_vat"]),
            vat_rate_pct=float(section["vat_rate_pct"]),
            extra_holidays=frozenset(_dates(section.get("extra_holidays") or [], "tariffs.extra_holidays")),
        )


def _rule(name: str, s: Mapping[str, Any]):
    key = f"tariffs.{name}"
    if name == "g11":
        return FlatRule(float(s["rate_pln_kwh"]))
    if name == "g13s":
        months = s["summer_months"]
        if not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months):
            raise ConfigError(f"{key}.summer_months must be a list of months 1-12, got {months!r}")
        return G13sRule(frozenset(months), _season(s["summer"], f"{key}.summer"),
                        _season(s["winter"], f"{key}.winter"), float(s["weekend_pln_kwh"]))
    return TwoZoneRule(float(s["peak_pln_kwh"]), float(s["off_peak_pln_kwh"]),
                       parse_ranges(s["peak_hours"], f"{key}.peak_hours"), bool(s["weekend_off_peak"]))


def _season(s: Mapping[str, Any], key: str) -> G13sSeason:
    return G13sSeason(float(s["peak_pln_kwh"]), float(s["off_peak_pln_kwh"]), float(s["night_pln_kwh"]),
                      parse_ranges(s["peak_hours"], f"{key}.peak_hours"),
                      parse_ranges(s["off_peak_hours"], f"{key}.off_peak_hours"))


def parse_ranges(value: Sequence[Any], key: str) -> Ranges:
    """``[["07:00", "13:00"], ...]`` (or whole hours ``[[7, 13]]``) as minute ranges; errors name ``key``."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key} must be a list of [start, end] pairs, got {value!r}")
    out = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(f"{key}: each range must be a [start, end] pair, got {pair!r}")
        start, end = (minute_of_day(p, key) for p in pair)
        if start == end:
            raise ConfigError(f"{key}: empty range {pair!r}")
        out.append((start, end))
    return tuple(out)


def minute_of_day(value: Any, key: str) -> int:
    """A local time of day ("HH:MM" up to "24:00", or a whole hour 0-24) as minutes since
    midnight; a bad value raises ``ConfigError`` naming ``key``."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24:
        return value * 60
    m = _HHMM.match(value) if isinstance(value, str) else None
    if m and int(m.group(2)) < 60 and int(m.group(1)) * 60 + int(m.group(2)) <= 24 * 60:
        return int(m.group(1)) * 60 + int(m.group(2))
    raise ConfigError(f"{key}: {value!r} is not a time of day (\"HH:MM\" from 00:00 to 24:00)")


def _dates(values: Sequence[Any], key: str) -> list[_dt.date]:
    out = []
    for v in values:
        try:
            out.append(v if isinstance(v, _dt.date) else _dt.date.fromisoformat(str(v)))
        except ValueError:
            raise ConfigError(f"{key}: {v!r} is not a YYYY-MM-DD date") from None
    return out


def _in_ranges(local: _dt.datetime, ranges: Ranges) -> bool:
    minute = local.hour * 60 + local.minute
    for start, end in ranges:
        if start < end:
            if start <= minute < end:
                return True
        elif minute >= start or minute < end:  # wraps past midnight
            return True
    return False


def _as_tariff(tariff_config: TariffConfig | Mapping[str, Any] | None) -> TariffConfig:
    return tariff_config if isinstance(tariff_config, TariffConfig) else TariffConfig.from_section(tariff_config)


def tariff_zone(period_start: _dt.datetime, tariff_config: TariffConfig | Mapping[str, Any] | None = None) -> Zone:
    """The tariff zone (and distribution rate, PLN/kWh) of the period that STARTS at
    ``period_start`` (an aware datetime), judged in local time."""
    cfg = _as_tariff(tariff_config)
    local = to_local(period_start)
    return cfg.rule.zone(local, is_free_day(local.date(), cfg.extra_holidays))


def final_price(period_start: _dt.datetime, market_pln_kwh: float,
                tariff_config: TariffConfig | Mapping[str, Any] | None = None) -> float:
    """The final buy price, PLN/kWh, of the period starting at ``period_start``:
    market + SC component + distribution of its zone (times 1 + VAT if ``include_vat``).

    ``tariff_config`` is a :class:`TariffConfig` or the ``tariffs`` config section.
    Pure: the same inputs always give the same price.
    """
    cfg = _as_tariff(tariff_config)
    return priced(period_start, market_pln_kwh, cfg)[0]


def priced(period_start: _dt.datetime, market_pln_kwh: float, cfg: TariffConfig) -> tuple[float, Zone]:
    """(final price PLN/kWh, zone) of one period; see :func:`final_price`."""
    zone = tariff_zone(period_start, cfg)
    total = market_pln_kwh + cfg.sc_component_pln_kwh + zone.distribution_pln_kwh
    if cfg.include_vat:
        total *= 1 + cfg.vat_rate_pct / 100
    return round(total, 6), zone
