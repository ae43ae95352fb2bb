"""Selling rules and revenue by aggregate, the PV forecast, and daily stats from counters."""

from __future__ import annotations

import datetime as _dt

import pytest

from tests.coordinator.helpers import WARSAW, flat_day, local, tele
from gdpo.coordinator.daily_stats import compute_daily_stats
from gdpo.coordinator.logic import rule_config
from gdpo.coordinator.model import HOLD, SELL, STOP_SELL, WAIT, PriceBasis, PriceQuarter
from gdpo.coordinator.pv_forecast import PVForecaster, season_factor
from gdpo.coordinator.selling import BatterySellingAnalytics, decide_selling

DAY = local(2026, 6, 10)
EVENING = DAY + _dt.timedelta(hours=19)
ON = rule_config({"selling": {"enabled": True}})




def evening_prices(export=1.0, night=0.4):
    """Expensive evening (export 1.0), cheap night refill; final prices without VAT (the default
    tariff adds none), like the export value."""
    out = []
    for i in range(96 * 2):
        t = DAY + _dt.timedelta(minutes=15 * i)
        hour = (i // 4) % 24
        final = 1.3 if 17 <= hour < 21 else night if hour < 6 else 0.8
        out.append(PriceQuarter(t, export if 17 <= hour < 21 else 0.3, final, export_pln_kwh=export if 17 <= hour < 21
                                else 0.3))
    return out


def sell(t=None, prices=None, sessions=(), config=ON, **kw):
    return decide_selling(t or tele(EVENING, soc=80, pv=0, load=600), prices or evening_prices(), list(sessions),
                          config, EVENING, **kw)


def test_selling_off_by_default():
    assert decide_selling(tele(EVENING, soc=80), evening_prices(), [], rule_config(), EVENING) is None


def test_sells_when_all_conditions_hold():
    d = sell()
    assert (d.action, d.rule) == (SELL, "sell")
    assert d.expected_revenue_pln == pytest.approx(min(3.0, 5.0) * 1.0)


@pytest.mark.parametrize("kw,rule", [
    ({"t": tele(EVENING, soc=50, pv=0, load=600)}, "soc_floor"),
    ({"t": tele(EVENING, soc=80, pv=3000, load=600)}, "pv_covers_load"),
    ({"prices": evening_prices(export=0.79)}, "price_floor"),
    ({"prices": evening_prices(export=0.85, night=0.8)}, "refill_cost"),
])
def test_selling_rules(kw, rule):
    d = sell(**kw)
    assert (d.action, d.rule) == (WAIT, rule)


def test_refill_with_vat_is_compared_net_with_the_vat_free_export_value():
    # the tariff adds 23 % VAT: the night's final price 0.738 is 0.60 net; 0.60 / 0.9 = 0.667 < 0.80
    prices = evening_prices(export=0.80, night=0.738)
    d = sell(prices=prices, basis=PriceBasis(include_vat=True, vat_rate_pct=23.0))
    assert (d.action, d.rule) == (SELL, "sell")
    assert d.numbers["refill_net_pln_kwh"] == pytest.approx(0.60)
    assert d.numbers["refill_cost_pln_kwh"] == pytest.approx(0.60 / 0.9)
    assert d.numbers["price_basis"]["buy_includes_vat"] is True
    # the same final price without VAT in it is 0.738 net: refilling costs 0.82 > 0.80
    assert sell(prices=prices, basis=PriceBasis(include_vat=False)).rule == "refill_cost"


def test_a_negative_export_price_counts_zero():
    d = sell(prices=evening_prices(export=-0.2))
    assert d.price_pln_kwh == 0.0 and d.numbers["export_price_pln_kwh"] == 0.0 and d.rule == "price_floor"


def test_no_selling_at_night():
    night = DAY + _dt.timedelta(hours=23)
    d = decide_selling(tele(night, soc=80, pv=0), evening_prices(), [], ON, night)
    assert d.rule == "quiet_hours"


def test_at_most_two_selling_sessions_a_day():
    class S:
        status = "completed"
    d = sell(sessions=[S(), S()])
    assert (d.action, d.rule) == (WAIT, "session_limit")


def test_unknown_soc_never_sells():
    assert sell(t=tele(EVENING, soc=None)).action == HOLD


async def test_selling_session_revenue_is_measured_and_aggregated(storage):
    an = BatterySellingAnalytics(storage, ON)
    d = sell()
    prices = evening_prices()
    q = next(p for p in prices if p.period_start == EVENING)
    from gdpo.coordinator.model import Telemetry

    r0 = Telemetry(ts=EVENING, battery_soc_pct=80, grid_export_total_kwh=10.0, battery_discharge_kwh=1.0)
    await an.start(d, r0, q, EVENING)
    t1 = EVENING + _dt.timedelta(minutes=15)
    r1 = Telemetry(ts=t1, battery_soc_pct=70, grid_export_total_kwh=11.1, battery_discharge_kwh=2.2)
    await an.observe(r1, q)
    done = await an.finish("completed", r1, t1, "done")
    assert done.energy_sold_kwh == pytest.approx(1.1)
    assert done.revenue_pln == pytest.approx(1.1)
    daily = await an.revenue(DAY, DAY + _dt.timedelta(days=1), "1d")
    monthly = await an.revenue(DAY - _dt.timedelta(days=9), DAY + _dt.timedelta(days=20), "1mo")
    assert daily[0]["revenue_pln"] == pytest.approx(1.1)
    assert monthly[0]["revenue_pln"] == pytest.approx(1.1)


async def test_pv_forecast_from_stored_history(storage):
    day = _dt.date(2026, 6, 10)
    now = DAY + _dt.timedelta(hours=6)
    rows = []
    for d in range(1, 15):
        for h in range(24):
            t = now - _dt.timedelta(days=d) + _dt.timedelta(hours=h - 6)
            local_hour = (h) % 24
            rows.append({"ts": t, "pv_power_w": 3000.0 if 10 <= local_hour < 14 else 0.0})
    await storage.write("energy_data", rows)
    f = PVForecaster(storage, ON)
    out = await f.refresh(now)
    assert len(out) == 24
    noon = [r for r in out if r.period_start == DAY + _dt.timedelta(hours=12)][0]
    assert noon.power_w == pytest.approx(3000.0 * season_factor(day) / (
        sum(season_factor((now - _dt.timedelta(days=d)).date()) for d in range(1, 15)) / 14), rel=0.05)
    assert out[0].confidence > out[-1].confidence
    stored = await storage.read("pv_forecasts", now - _dt.timedelta(hours=1), now + _dt.timedelta(days=2))
    assert len(stored) == 24
    assert f.power_at(DAY + _dt.timedelta(hours=12, minutes=30)) == noon.power_w


async def test_daily_stats_from_counters_and_sessions(storage):
    day = _dt.date(2026, 6, 10)
    rows = []
    base = DAY - _dt.timedelta(minutes=15)
    for i in range(0, 24 * 4 + 2):   # readings on the quarters, from the last one before midnight to the next midnight
        t = base + _dt.timedelta(minutes=15 * i)
        rows.append({"ts": t, "grid_import_total_kwh": 100 + 0.1 * i, "grid_export_total_kwh": 50 + 0.05 * i,
                     "house_consumption_total_kwh": 1000 + 0.2 * i, "pv_energy_today_kwh": min(12.0, 0.2 * i)})
    await storage.write("energy_data", rows)
    await storage.write("charging_sessions", {"session_id": "a", "start_ts": DAY + _dt.timedelta(hours=2),
                                              "status": "completed", "actual_energy_kwh": 3.0, "cost_pln": 1.2})
    prices = flat_day(DAY, 0.8)
    stats = await compute_daily_stats(storage, day, prices, "Europe/Warsaw")
    assert stats.total_grid_import_kwh == pytest.approx(0.1 * 96)
    assert stats.total_grid_export_kwh == pytest.approx(0.05 * 96)
    assert stats.total_consumption_kwh == pytest.approx(0.2 * 96)
    await storage.write("energy_data", {"ts": DAY + _dt.timedelta(hours=23, minutes=59),
                                        "payload": {"house_consumption_today_kwh": 19.3}})  # counters unknown
    finer = await compute_daily_stats(storage, day, prices, "Europe/Warsaw")
    assert finer.total_consumption_kwh == 19.3 and finer.payload["consumption_lifetime_counter_kwh"] > 0
    assert stats.total_pv_kwh == pytest.approx(12.0)
    assert stats.avg_price_pln_kwh == pytest.approx(0.8)
    assert (stats.grid_charge_kwh, stats.grid_charge_cost_pln) == (3.0, 1.2)
    assert stats.payload["import_cost_pln"] == pytest.approx(0.1 * 96 * 0.8)
    assert stats.payload["grid_charge_savings_pln"] == pytest.approx(3.0 * 0.8 - 1.2)


async def test_daily_stats_book_the_interval_across_midnight_by_time(storage):
    # readings a minute before each quarter: 1.5 kWh from 23:59 to 00:14 (14/15 of it the day's),
    # then 0.15 kWh a quarter, the last one 23:59-00:14 (1/15 of it the day's)
    counter = [100.0] + [101.5 + 0.15 * i for i in range(97)]
    rows = [{"ts": DAY - _dt.timedelta(minutes=1) + _dt.timedelta(minutes=15 * i), "grid_import_total_kwh": c}
            for i, c in enumerate(counter)]
    await storage.write("energy_data", rows)
    stats = await compute_daily_stats(storage, DAY.astimezone(WARSAW).date(), flat_day(DAY, 0.8), "Europe/Warsaw")
    expected = 1.5 * 14 / 15 + 0.15 * 95 + 0.15 / 15
    assert stats.total_grid_import_kwh == pytest.approx(expected)
    assert stats.payload["import_cost_pln"] == pytest.approx(expected * 0.8)


async def test_daily_stats_value_the_export_at_rce_never_below_zero(storage):
    rows = [{"ts": DAY + _dt.timedelta(minutes=15 * i), "grid_import_total_kwh": 10.0,
             "grid_export_total_kwh": 50 + 0.4 * i} for i in range(0, 97)]
    await storage.write("energy_data", rows)
    prices = [PriceQuarter(DAY + _dt.timedelta(minutes=15 * i), 0.5 if i < 48 else -0.2, 0.9,
                           export_pln_kwh=0.3 if i % 2 else -0.1) for i in range(96)]
    day = DAY.astimezone(WARSAW).date()
    rce = await compute_daily_stats(storage, day, prices, "Europe/Warsaw", basis=PriceBasis(use_rce=True))
    market = await compute_daily_stats(storage, day, prices, "Europe/Warsaw", basis=PriceBasis(use_rce=False))
    assert rce.total_grid_export_kwh == pytest.approx(0.4 * 96)
    assert rce.payload["export_value_pln"] == pytest.approx(48 * 0.4 * 0.3)        # the negative RCE counts 0
    assert market.payload["export_value_pln"] == pytest.approx(48 * 0.4 * 0.5)     # so does the negative market price
    assert rce.payload["import_cost_pln"] == 0.0 and rce.total_grid_import_kwh == 0.0
