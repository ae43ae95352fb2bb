"""Config sections ``prices`` (where and how day-ahead prices are fetched) and ``tariffs``
(how the final buy price is built from the market price).

All rates are PLN/kWh. Zone hours are lists of ``["HH:MM", "HH:MM"]`` pairs in local time
(Europe/Warsaw), ``start <= t < end`` on the START of a quarter-hour; an end of ``"24:00"``
means midnight, and a pair whose end is before its start wraps past midnight.
"""

from __future__ import annotations

from gdpo.storage.options import Option

PSE_PUBLIC_API_URL = "https://api.raporty.pse.pl/api"
TARIFF_NAMES = ("g11", "g12", "g12w", "g12as", "g13s")


def _hours(default: list[list[str]], what: str) -> Option:
    return Option("list", default, f"{what}: list of [\"HH:MM\", \"HH:MM\"] local-time ranges, start <= t < end")


def _two_zone(peak: float, off_peak: float, peak_hours: list[list[str]], weekend_off_peak: bool, what: str) -> dict:
    return {
        "peak_pln_kwh": Option("float", peak, f"{what}: distribution rate in the peak zone, PLN/kWh"),
        "off_peak_pln_kwh": Option("float", off_peak, f"{what}: distribution rate outside the peak zone, PLN/kWh"),
        "peak_hours": _hours(peak_hours, f"{what}: peak zone hours (all other hours are off-peak)"),
        "weekend_off_peak": Option("bool", weekend_off_peak,
                                   f"{what}: Saturdays, Sundays and public holidays are off-peak all day"),
    }


def _g13s_season(peak: float, off_peak: float, night: float, peak_hours, off_peak_hours, what: str) -> dict:
    return {
        "peak_pln_kwh": Option("float", peak, f"g13s {what}: peak zone rate, PLN/kWh"),
        "off_peak_pln_kwh": Option("float", off_peak, f"g13s {what}: daytime off-peak zone rate, PLN/kWh"),
        "night_pln_kwh": Option("float", night, f"g13s {what}: night zone rate (all remaining hours), PLN/kWh"),
        "peak_hours": _hours(peak_hours, f"g13s {what}: peak zone hours"),
        "off_peak_hours": _hours(off_peak_hours, f"g13s {what}: daytime off-peak zone hours"),
    }


PRICES_SCHEMA = {
    "pse_base_url": Option("str", PSE_PUBLIC_API_URL,
                           "Base URL of the PSE reports API (a mirror or a local test server may be given)"),
    "timeout_s": Option("float", 10.0, "Timeout of one HTTP request to PSE, seconds", min=0.1, max=120),
    "retries": Option("int", 3, "Extra attempts after a failed request (connection error, timeout, HTTP 5xx/429)",
                      min=0, max=10),
    "retry_backoff_s": Option("float", 2.0, "First wait before a retry, seconds; doubles on each retry",
                              min=0, max=300),
    "max_pages": Option("int", 20, "Most nextLink pages followed for one day (guards against a loop)",
                        min=1, max=1000),
    "publish_poll_from": Option("str", "12:50", "Local time (HH:MM) from which tomorrow's prices are fetched"),
    "poll_interval_min": Option("float", 15.0, "Minutes between attempts until tomorrow's prices are complete",
                                min=0.1, max=720),
    "export_prices": Option("bool", False, "Also fetch rce-pln (the export/net-billing value) as its own source"),
}

TARIFFS_SCHEMA = {
    "tariff": Option("str", "g12", "Distribution tariff in force", choices=TARIFF_NAMES),
    "sc_component_pln_kwh": Option("float", 0.0892, "SC component added to every market price, PLN/kWh"),
    "include_vat": Option("bool", False,
                          "Multiply the final price (market + SC + distribution) by 1 + vat_rate_pct/100; "
                          "leave false when the configured rates already include VAT or net prices are wanted"),
    "vat_rate_pct": Option("float", 23.0, "VAT rate applied when include_vat is true, %", min=0, max=100),
    "extra_holidays": Option("list", [], "Extra free days (\"YYYY-MM-DD\") treated like public holidays"),
    "g11": {
        "rate_pln_kwh": Option("float", 0.3125, "g11: flat distribution rate, PLN/kWh"),
    },
    "g12": _two_zone(0.3566, 0.0749, [["07:00", "13:00"], ["15:00", "22:00"]], False, "g12"),
    "g12w": _two_zone(0.3566, 0.0749, [["06:00", "22:00"]], True, "g12w"),
    "g12as": _two_zone(0.3125, 0.0312, [["07:00", "13:00"]], False, "g12as"),
    "g13s": {
        "summer_months": Option("list", [4, 5, 6, 7, 8, 9], "g13s: months (1-12) that use the summer hours"),
        "weekend_pln_kwh": Option("float", 0.110,
                                  "g13s: rate all day on Saturdays, Sundays and public holidays, PLN/kWh"),
        "summer": _g13s_season(0.290, 0.100, 0.110, [["07:00", "09:00"], ["17:00", "21:00"]],
                               [["09:00", "17:00"]], "summer"),
        "winter": _g13s_season(0.340, 0.200, 0.110, [["07:00", "10:00"], ["15:00", "21:00"]],
                               [["10:00", "15:00"]], "winter"),
    },
}

SECTIONS = {"prices": PRICES_SCHEMA, "tariffs": TARIFFS_SCHEMA}


def price_sections(config=None) -> tuple[dict, dict]:
    """The validated ``prices`` and ``tariffs`` sections (defaults filled) of ``config``:
    a ``gdpo.config.Config``, a mapping of the whole config (other sections are ignored),
    or None for the defaults. A bad value raises ``ConfigError`` naming its key."""
    from gdpo.config import Config, load_config

    if isinstance(config, Config):
        cfg = config
    else:
        cfg = load_config({name: (config or {}).get(name) or {} for name in SECTIONS})
    return cfg.section("prices"), cfg.section("tariffs")


def check_config(data: dict) -> None:
    """Parse every tariff's hours and dates, not only the chosen one's (a later switch of
    ``tariffs.tariff`` must not meet a bad value), so ``gdpo config check`` refuses what the
    price service would. Raises ``ConfigError`` naming the key."""
    from gdpo.prices.tariffs import TARIFF_NAMES, TariffConfig

    for name in TARIFF_NAMES:
        TariffConfig.from_section(data["tariffs"], name)
