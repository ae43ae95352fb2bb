"""Tariff zones at their boundaries (on the period START), free days, holidays, final price."""

from __future__ import annotations

import datetime as dt

import pytest

from gdpo.config import ConfigError
from gdpo.prices import TariffConfig, final_price, is_free_day, is_public_holiday, polish_holidays, tariff_zone
from gdpo.prices.holidays import easter_sunday
from gdpo.prices.timeline import LOCAL_TZ

UTC = dt.timezone.utc
WEEKDAY_WINTER = dt.date(2025, 11, 27)   # Thursday, January-March/October-December season
WEEKDAY_SUMMER = dt.date(2025, 7, 16)    # Wednesday
SATURDAY = dt.date(2025, 11, 29)


def at(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def zone(name: str, day: dt.date, hh: int, mm: int, **section) -> tuple[str, float]:
    z = tariff_zone(at(day, hh, mm), TariffConfig.from_section(section, name))
    return z.name, z.distribution_pln_kwh


def test_g11_is_flat():
    for hh, mm in [(0, 0), (7, 0), (13, 0), (21, 45), (23, 45)]:
        assert zone("g11", WEEKDAY_WINTER, hh, mm) == ("flat", 0.3125)
    assert zone("g11", SATURDAY, 12, 0) == ("flat", 0.3125)


@pytest.mark.parametrize("hh,mm,expected", [
    (6, 45, "off_peak"), (7, 0, "peak"), (12, 45, "peak"), (13, 0, "off_peak"), (14, 45, "off_peak"),
    (15, 0, "peak"), (21, 45, "peak"), (22, 0, "off_peak"), (23, 45, "off_peak"), (0, 0, "off_peak"),
])
def test_g12_boundaries(hh, mm, expected):
    rate = {"peak": 0.3566, "off_peak": 0.0749}[expected]
    assert zone("g12", WEEKDAY_WINTER, hh, mm) == (expected, rate)


def test_g12_has_no_weekend_rule():
    assert zone("g12", SATURDAY, 10, 0)[0] == "peak"
    assert zone("g12", dt.date(2025, 12, 25), 10, 0)[0] == "peak"


@pytest.mark.parametrize("hh,mm,expected", [
    (5, 45, "off_peak"), (6, 0, "peak"), (13, 30, "peak"), (21, 45, "peak"), (22, 0, "off_peak"),
])
def test_g12w_weekday_boundaries(hh, mm, expected):
    assert zone("g12w", WEEKDAY_WINTER, hh, mm)[0] == expected


@pytest.mark.parametrize("day", [SATURDAY, dt.date(2025, 11, 30), dt.date(2025, 12, 24), dt.date(2026, 4, 6),
                                 dt.date(2026, 6, 4), dt.date(2025, 11, 11)])
def test_g12w_free_days_are_off_peak_all_day(day):
    assert {zone("g12w", day, hh, 0)[0] for hh in range(24)} == {"off_peak"}


def test_g12w_christmas_eve_before_2025_was_a_working_day():
    assert zone("g12w", dt.date(2024, 12, 24), 10, 0)[0] == "peak"  # a Tuesday, not yet a holiday


@pytest.mark.parametrize("hh,mm,expected", [
    (6, 45, ("off_peak", 0.0312)), (7, 0, ("peak", 0.3125)), (12, 45, ("peak", 0.3125)),
    (13, 0, ("off_peak", 0.0312)), (23, 0, ("off_peak", 0.0312)),
])
def test_g12as_boundaries(hh, mm, expected):
    assert zone("g12as", WEEKDAY_WINTER, hh, mm) == expected


@pytest.mark.parametrize("hh,mm,expected", [
    (6, 45, ("night", 0.110)), (7, 0, ("peak", 0.290)), (8, 45, ("peak", 0.290)), (9, 0, ("off_peak", 0.100)),
    (16, 45, ("off_peak", 0.100)), (17, 0, ("peak", 0.290)), (20, 45, ("peak", 0.290)), (21, 0, ("night", 0.110)),
    (0, 0, ("night", 0.110)),
])
def test_g13s_summer_boundaries(hh, mm, expected):
    assert zone("g13s", WEEKDAY_SUMMER, hh, mm) == expected


@pytest.mark.parametrize("hh,mm,expected", [
    (6, 45, ("night", 0.110)), (7, 0, ("peak", 0.340)), (9, 45, ("peak", 0.340)), (10, 0, ("off_peak", 0.200)),
    (14, 45, ("off_peak", 0.200)), (15, 0, ("peak", 0.340)), (20, 45, ("peak", 0.340)), (21, 0, ("night", 0.110)),
])
def test_g13s_winter_boundaries(hh, mm, expected):
    assert zone("g13s", WEEKDAY_WINTER, hh, mm) == expected


def test_g13s_season_change_by_month():
    assert zone("g13s", dt.date(2025, 3, 31), 10, 0)[0] == "off_peak"   # winter: 10-15 off-peak
    assert zone("g13s", dt.date(2025, 4, 1), 10, 0)[0] == "off_peak"    # summer: 9-17 off-peak
    assert zone("g13s", dt.date(2025, 3, 31), 9, 30)[0] == "peak"       # winter peak until 10
    assert zone("g13s", dt.date(2025, 4, 1), 9, 30)[0] == "off_peak"    # summer peak ends at 9
    assert zone("g13s", dt.date(2025, 9, 30), 16, 0)[0] == "off_peak"
    assert zone("g13s", dt.date(2025, 10, 1), 16, 0)[0] == "peak"


@pytest.mark.parametrize("day", [SATURDAY, dt.date(2025, 12, 24), dt.date(2025, 4, 21), dt.date(2025, 6, 19)])
def test_g13s_free_days_one_rate_all_day(day):
    assert {zone("g13s", day, hh, 30) for hh in range(24)} == {("weekend", 0.110)}


def test_zone_is_judged_on_the_period_start_not_end():
    # the quarter 21:45-22:00 ends at 22:00 but starts in the peak zone
    assert zone("g12", WEEKDAY_WINTER, 21, 45)[0] == "peak"
    assert zone("g12", WEEKDAY_WINTER, 12, 45)[0] == "peak"


def test_zone_uses_local_time_across_dst():
    day = dt.date(2025, 10, 26)  # a Sunday, but g12 has no weekend rule
    first = dt.datetime(2025, 10, 26, 6, 0, tzinfo=UTC)   # 07:00 CET
    assert tariff_zone(first, TariffConfig.from_section({}, "g12")).name == "peak"
    assert tariff_zone(first - dt.timedelta(minutes=15), TariffConfig.from_section({}, "g12")).name == "off_peak"
    assert day.weekday() == 6


def test_holidays_of_2025_and_2026():
    h25 = polish_holidays(2025)
    assert dt.date(2025, 12, 24) in h25 and dt.date(2024, 12, 24) not in polish_holidays(2024)
    assert easter_sunday(2025) == dt.date(2025, 4, 20) and easter_sunday(2026) == dt.date(2026, 4, 5)
    assert h25[dt.date(2025, 4, 21)] == "Easter Monday"
    assert h25[dt.date(2025, 6, 19)] == "Corpus Christi"
    assert polish_holidays(2026)[dt.date(2026, 4, 6)] == "Easter Monday"
    assert polish_holidays(2026)[dt.date(2026, 6, 4)] == "Corpus Christi"
    assert len(h25) == 14
    for d in ("01-01", "01-06", "05-01", "05-03", "08-15", "11-01", "11-11", "12-25", "12-26"):
        assert is_public_holiday(dt.date.fromisoformat(f"2025-{d}"))
    assert not is_public_holiday(dt.date(2025, 4, 22))


def test_free_days():
    assert is_free_day(SATURDAY) and is_free_day(SATURDAY + dt.timedelta(days=1))
    assert not is_free_day(WEEKDAY_WINTER)
    assert is_free_day(WEEKDAY_WINTER, extra=frozenset({WEEKDAY_WINTER}))
    assert zone("g12w", WEEKDAY_WINTER, 10, 0, extra_holidays=["2025-11-27"])[0] == "off_peak"


def test_final_price_is_market_plus_sc_plus_distribution():
    start = at(WEEKDAY_WINTER, 8, 0)
    assert final_price(start, 0.43126, {"tariff": "g12"}) == pytest.approx(0.43126 + 0.0892 + 0.3566)
    assert final_price(start, -0.2, {"tariff": "g12as"}) == pytest.approx(-0.2 + 0.0892 + 0.3125)
    vat = {"tariff": "g11", "include_vat": True, "vat_rate_pct": 23.0, "sc_component_pln_kwh": 0.1}
    assert final_price(start, 0.4, vat) == pytest.approx((0.4 + 0.1 + 0.3125) * 1.23)


def test_rates_and_hours_come_from_config():
    section = {"tariff": "g12", "g12": {"peak_pln_kwh": 1.0, "off_peak_pln_kwh": 0.5,
                                        "peak_hours": [["08:30", "09:00"], [22, 2]]}}
    cfg = TariffConfig.from_section(section)
    assert tariff_zone(at(WEEKDAY_WINTER, 8, 15), cfg).name == "off_peak"
    assert tariff_zone(at(WEEKDAY_WINTER, 8, 30), cfg) .distribution_pln_kwh == 1.0
    assert tariff_zone(at(WEEKDAY_WINTER, 23, 0), cfg).name == "peak"     # wraps past midnight
    assert tariff_zone(at(WEEKDAY_WINTER, 1, 45), cfg).name == "peak"
    assert tariff_zone(at(WEEKDAY_WINTER, 2, 0), cfg).name == "off_peak"


@pytest.mark.parametrize("section,message", [
    ({"g12": {"peak_hours": [["07:00"]]}}, r"tariffs.g12.peak_hours: each range must be a \[start, end\] pair"),
    ({"g12": {"peak_hours": [["07:00", "25:00"]]}}, "tariffs.g12.peak_hours: '25:00' is not a time of day"),
    ({"g12": {"peak_hours": "07-13"}}, "tariffs.g12.peak_hours must be a list"),
    ({"g13s": {"summer_months": [4, 13]}}, "tariffs.g13s.summer_months"),
    ({"extra_holidays": ["2025-13-01"]}, "tariffs.extra_holidays: '2025-13-01' is not a YYYY-MM-DD date"),
    ({"tariff": "g14"}, "tariffs.tariff is 'g14'"),
    ({"g12": {"peak_pln_kwh": "cheap"}}, "tariffs.g12.peak_pln_kwh must be a number"),
    ({"vat": True}, "unknown key tariffs.vat"),
])
def test_bad_tariff_config_names_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        TariffConfig.from_section(section, None if "tariff" in section else section_tariff(section))


def section_tariff(section: dict) -> str | None:
    return next((k for k in ("g12", "g13s") if k in section), None)


def test_shipped_config_states_the_defaults():
    from pathlib import Path

    from gdpo.config import load_config

    path = Path(__file__).resolve().parents[2] / "config" / "master_coordinator_config.yaml"
    shipped, defaults = load_config(path, env={}), load_config({}, env={})
    shipped_prices, default_prices = shipped.section("prices"), defaults.section("prices")
    assert shipped_prices.pop("pse_base_url") == "https://api.raporty.pse.pl/api"  # read, never contacted
    default_prices.pop("pse_base_url")  # the test guard replaces this default with a loopback port
    assert shipped_prices == default_prices
    assert shipped.section("tariffs") == defaults.section("tariffs")
    for section in ("prices", "tariffs"):
        assert all(shipped.sources[k].startswith("file:") for k in shipped.leaf_paths if k.startswith(section))
