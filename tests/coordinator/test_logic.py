"""One test per charging rule of DOMAIN.md section 4, and one per mistake of the old system."""

from __future__ import annotations

import datetime as _dt

import pytest

from tests.coordinator.helpers import flat_day, local, quarters, session, tele
from gdpo.coordinator.logic import HybridChargingLogic, allowed_wait_h, decide, rule_config
from gdpo.coordinator.model import CHARGE, CONTINUE, HOLD, STOP, WAIT, PriceQuarter, Telemetry

DAY = local(2026, 3, 10)  # local midnight, a Tuesday (CET)
NOON = DAY + _dt.timedelta(hours=12)


def run(t, prices, sessions=(), now=NOON, config=None, **kw):
    return decide(t, prices, list(sessions), config, now, **kw)


# --------------------------------------------------------------------------- rule 0: no data


def test_stale_telemetry_holds():
    d = run(tele(NOON, soc=3, age_s=181), flat_day(DAY, 0.1))
    assert (d.action, d.rule) == (HOLD, "no_data")


def test_missing_soc_holds_not_emergency():
    d = run(tele(NOON, soc=None), flat_day(DAY, 0.1))
    assert (d.action, d.rule) == (HOLD, "no_data")


def test_missing_price_holds():
    d = run(tele(NOON, soc=3), flat_day(DAY, 0.1, hours=6))  # prices end at 06:00
    assert (d.action, d.rule) == (HOLD, "no_data")


# --------------------------------------------------------------------------- rule 1: battery guard


@pytest.mark.parametrize("temp", [0.0, -5.0, 53.0, 60.0])
def test_battery_guard_blocks_even_emergency(temp):
    d = run(tele(NOON, soc=2, temp=temp), flat_day(DAY, 0.1))
    assert (d.action, d.rule) == (WAIT, "battery_guard")


def test_battery_guard_stops_active_session():
    s = session("active", NOON - _dt.timedelta(minutes=30))
    d = run(tele(NOON, soc=40, temp=54), flat_day(DAY, 0.1), [s])
    assert (d.action, d.rule) == (STOP, "battery_guard")


# --------------------------------------------------------------------------- rule 2: active session


def test_active_session_continues_to_target():
    s = session("active", NOON - _dt.timedelta(minutes=30), target=95)
    d = run(tele(NOON, soc=80), flat_day(DAY, 0.9), [s])
    assert (d.action, d.rule) == (CONTINUE, "active_session")


def test_active_session_stops_at_target():
    s = session("active", NOON - _dt.timedelta(minutes=30), target=95)
    d = run(tele(NOON, soc=95), flat_day(DAY, 0.5), [s])
    assert (d.action, d.rule) == (STOP, "active_session")


def test_active_session_stops_above_high_cap_after_min_run():
    s = session("active", NOON - _dt.timedelta(minutes=15))
    d = run(tele(NOON, soc=60), flat_day(DAY, 1.2), [s])
    assert (d.action, d.rule) == (STOP, "active_session")
    assert "stop price" in d.reason


def test_active_session_minimum_run():
    s = session("active", NOON - _dt.timedelta(minutes=5))
    d = run(tele(NOON, soc=60), flat_day(DAY, 1.2), [s])
    assert (d.action, d.rule) == (CONTINUE, "active_session")


def test_active_session_keeps_charging_at_critical_soc_despite_price():
    s = session("active", NOON - _dt.timedelta(minutes=30))
    d = run(tele(NOON, soc=10), flat_day(DAY, 1.5), [s])
    assert d.action == CONTINUE


def test_one_stop_threshold_per_session():
    # The stop price is fixed when the session starts; a later config change does not move it.
    s = session("active", NOON - _dt.timedelta(minutes=30), stop_price_pln_kwh=1.5)
    d = run(tele(NOON, soc=60), flat_day(DAY, 1.2), [s])
    assert d.action == CONTINUE
    assert d.numbers["stop_price_pln_kwh"] == 1.5


# --------------------------------------------------------------------------- rule 3: emergency


def test_emergency_charges_at_any_price():
    d = run(tele(NOON, soc=4), flat_day(DAY, 3.0))
    assert (d.action, d.rule, d.target_soc_pct) == (CHARGE, "emergency", 20.0)


def test_emergency_ignores_restart_block():
    s = session("completed", NOON - _dt.timedelta(minutes=20), end=NOON - _dt.timedelta(minutes=5))
    d = run(tele(NOON, soc=4), flat_day(DAY, 3.0), [s])
    assert d.action == CHARGE


# --------------------------------------------------------------------------- rule 4: critical


def test_critical_charges_at_acceptable_price():
    d = run(tele(NOON, soc=10), flat_day(DAY, 1.0))
    assert (d.action, d.rule) == (CHARGE, "critical")


def test_critical_waits_above_max_price():
    d = run(tele(NOON, soc=10), flat_day(DAY, 1.3))
    assert (d.action, d.rule) == (WAIT, "critical")


def test_critical_waits_for_much_cheaper_quarter_within_allowed_wait():
    prices = flat_day(DAY, 1.0, cheap={12 * 4 + 8: 0.6})  # 14:00, 2 h ahead, 40 % cheaper
    d = run(tele(NOON, soc=11), prices)
    assert (d.action, d.rule) == (WAIT, "critical")
    assert d.numbers["cheaper_price_pln_kwh"] == 0.6


def test_critical_does_not_wait_beyond_allowed_wait():
    prices = flat_day(DAY, 1.0, cheap={12 * 4 + 40: 0.6})  # 22:00, 10 h ahead
    d = run(tele(NOON, soc=9), prices)  # allowed wait at 9 % is 2 h
    assert (d.action, d.rule) == (CHARGE, "critical")


def test_critical_never_waits_at_or_below_8_pct():
    prices = flat_day(DAY, 1.0, cheap={12 * 4 + 1: 0.2})
    d = run(tele(NOON, soc=7), prices)
    assert d.action == CHARGE


def test_allowed_wait_shrinks_with_soc():
    crit = rule_config()["charging"]["critical"]
    assert allowed_wait_h(11.99, crit) == pytest.approx(8 * 3.99 / 4)
    assert allowed_wait_h(8.1, crit) == 1.0
    assert allowed_wait_h(12, {**crit, "base_wait_h": 20}) == 12.0


# --------------------------------------------------------------------------- rule 5: PV surplus


def test_pv_surplus_blocks_cheap_charging():
    d = run(tele(NOON, soc=40, pv=4000, load=1000), flat_day(DAY, 0.2))
    assert (d.action, d.rule) == (WAIT, "pv_surplus")


def test_pv_surplus_does_not_apply_at_95():
    d = run(tele(NOON, soc=96, pv=4000, load=1000), flat_day(DAY, 0.2))
    assert d.rule != "pv_surplus"


def test_pv_forecast_used_when_pv_unknown():
    t = Telemetry(ts=NOON, battery_soc_pct=40, house_consumption_w=500, battery_temp_c=20)
    d = run(t, flat_day(DAY, 0.2), pv_forecast_w=3000)
    assert (d.action, d.rule) == (WAIT, "pv_surplus")


# --------------------------------------------------------------------------- rule 6: super-cheap


def test_super_cheap_charges_to_100():
    d = run(tele(NOON, soc=90), flat_day(DAY, 0.25))
    assert (d.action, d.rule, d.target_soc_pct) == (CHARGE, "super_cheap", 100.0)


def test_negative_market_price_is_super_cheap():
    prices = quarters(DAY, [0.5] * 96, market=[-0.05] * 96)
    d = run(tele(NOON, soc=90), prices)
    assert d.rule == "super_cheap"


# --------------------------------------------------------------------------- rule 7: opportunistic


def test_opportunistic_close_to_cheapest():
    # 0.80 at noon, 0.75 at 12:15, the evening at 1.40: 0.80 is within 1.15 x the cheapest.
    prices = flat_day(DAY, 0.80, cheap={49: 0.75, **{i: 1.40 for i in range(68, 84)}})
    d = run(tele(NOON, soc=40), prices)
    assert (d.action, d.rule) == (CHARGE, "opportunistic")


def test_opportunistic_waits_for_much_cheaper():
    prices = flat_day(DAY, 0.90, cheap={60: 0.40, 61: 0.40, 62: 0.40, 63: 0.40, 64: 0.40, 65: 0.4, 66: 0.4,
                                        67: 0.4, 68: 0.4, 69: 0.4, 70: 0.4, 71: 0.4, 72: 0.4})
    d = run(tele(NOON, soc=40), prices)
    assert (d.action, d.rule) == (WAIT, "opportunistic")


def test_opportunistic_needed_before_expensive_block():
    # 12:00 0.70, 12:15 0.69, then an expensive block from 12:30, cheap again at 20:00.
    finals = [0.70, 0.69] + [1.5] * 30 + [0.3] * 64
    d = run(tele(NOON, soc=40), quarters(NOON, finals))
    assert (d.action, d.rule) == (CHARGE, "opportunistic")
    assert "cheapest quarters needed" in d.reason


# A winter evening: an expensive block from 17:00 to 22:00 local, cheap night from 22:00.
EVENING = local(2026, 12, 3, 17, 0)
WINTER_EVENING = quarters(EVENING, [1.33, 1.325, 1.22] + [1.30] * 17 + [0.53] * 40 + [1.10] * 16)


@pytest.mark.parametrize("offset_q", [0, 1, 2, 10, 19])
def test_no_grid_charge_inside_an_expensive_block(offset_q):
    # The old rule took "the window before the next expensive block" as the current quarter
    # alone (the block's next quarter counted as "next"), and charged at 1.33 / 1.325 / 1.22.
    now = EVENING + _dt.timedelta(minutes=15 * offset_q)
    d = run(tele(now, soc=30), WINTER_EVENING, now=now)
    assert d.action == WAIT and d.rule == "expensive_block", d.reason
    assert d.energy_kwh is None


def test_expensive_block_holds_even_when_all_ahead_is_expensive():
    # The whole look-ahead is expensive: "close to the cheapest" must not start a charge either.
    now = EVENING
    d = run(tele(now, soc=30), quarters(EVENING, [1.30] * 60), now=now)
    assert (d.action, d.rule) == (WAIT, "expensive_block")


def test_normal_rule_never_starts_inside_an_expensive_block():
    now = EVENING
    d = run(tele(now, soc=70), quarters(EVENING, [1.30] * 96), now=now)
    assert d.action == WAIT and d.rule != "normal"


def test_charges_again_when_the_block_ends():
    now = EVENING + _dt.timedelta(hours=5)  # 22:00, first cheap quarter
    d = run(tele(now, soc=30), WINTER_EVENING, now=now)
    assert (d.action, d.rule) == (CHARGE, "opportunistic")
    assert d.price_pln_kwh == pytest.approx(0.53)


def test_emergency_still_charges_inside_an_expensive_block():
    d = run(tele(EVENING, soc=4), WINTER_EVENING, now=EVENING)
    assert (d.action, d.rule) == (CHARGE, "emergency")


def test_critical_still_charges_inside_an_expensive_block():
    # 1.15 <= the critical cap 1.20 and nothing 30 % cheaper within the allowed wait.
    prices = quarters(EVENING, [1.15] * 96)
    d = run(tele(EVENING, soc=10), prices, now=EVENING)
    assert (d.action, d.rule) == (CHARGE, "critical")


# --------------------------------------------------------------------------- rule 8: normal


def test_normal_charges_in_the_cheapest_quarters():
    prices = flat_day(DAY, 0.9, cheap={48: 0.5, 49: 0.5})
    d = run(tele(NOON, soc=70), prices)
    assert (d.action, d.rule, d.target_soc_pct) == (CHARGE, "normal", 95.0)


def test_normal_not_at_or_above_85():
    prices = flat_day(DAY, 0.9, cheap={48: 0.5})
    d = run(tele(NOON, soc=85), prices)
    assert (d.action, d.rule) == (WAIT, "self_use")


def test_normal_at_most_4_sessions_a_day():
    prices = flat_day(DAY, 0.9, cheap={48: 0.5})
    done = [session("completed", DAY + _dt.timedelta(hours=h), end=DAY + _dt.timedelta(hours=h, minutes=30))
            for h in (1, 3, 5, 7)]
    d = run(tele(NOON, soc=70), prices, done)
    assert (d.action, d.rule) == (WAIT, "normal")


def test_normal_waits_for_cheaper_quarter_later():
    prices = flat_day(DAY, 0.9, cheap={48: 0.7, 80: 0.5, 81: 0.5, 82: 0.5, 83: 0.5, 84: 0.5, 85: 0.5, 86: 0.5,
                                       87: 0.5, 88: 0.5})
    d = run(tele(NOON, soc=70), prices)
    assert (d.action, d.rule) == (WAIT, "self_use")


# --------------------------------------------------------------------------- rule 9 and the restart block


def test_self_use_otherwise():
    d = run(tele(NOON, soc=90), flat_day(DAY, 0.9))
    assert (d.action, d.rule) == (WAIT, "self_use")


def test_no_restart_within_15_min_of_a_stop():
    s = session("completed", NOON - _dt.timedelta(minutes=40), end=NOON - _dt.timedelta(minutes=10))
    d = run(tele(NOON, soc=90), flat_day(DAY, 0.25), [s])
    assert d.action == WAIT and "less than" in d.reason
    d2 = run(tele(NOON + _dt.timedelta(minutes=5), soc=90), flat_day(DAY, 0.25), [s],
             now=NOON + _dt.timedelta(minutes=5))
    assert d2.action == CHARGE


# --------------------------------------------------------------------------- mistakes of the old system


def test_mistake_quarter_offset_price_applies_from_its_start():
    # The quarter 09:45-10:00 (PSE dtime 10:00) is cheap: it applies at 09:50, not at 10:00.
    cheap_start = DAY + _dt.timedelta(hours=9, minutes=45)
    prices = flat_day(DAY, 0.9, cheap={39: 0.2})
    assert prices[39].period_start == cheap_start
    at_950 = run(tele(cheap_start + _dt.timedelta(minutes=5), soc=90), prices, now=cheap_start + _dt.timedelta(minutes=5))
    at_1000 = run(tele(cheap_start + _dt.timedelta(minutes=15), soc=90), prices,
                  now=cheap_start + _dt.timedelta(minutes=15))
    assert (at_950.action, at_950.price_pln_kwh) == (CHARGE, 0.2)
    assert (at_1000.action, at_1000.price_pln_kwh) == (WAIT, 0.9)


def test_mistake_horizon_ending_at_midnight():
    # At 22:00 with SOC 70: today's remaining quarters cost 0.8 (1.2 from 23:00); tomorrow
    # 02:00 costs 0.4.
    now = DAY + _dt.timedelta(hours=22)
    today_only = flat_day(DAY, 0.8, cheap={i: 1.2 for i in range(92, 96)})
    with_tomorrow = today_only + flat_day(DAY + _dt.timedelta(days=1), 0.8, cheap={8: 0.4, 9: 0.4, 10: 0.4, 11: 0.4,
                                                                                   12: 0.4, 13: 0.4, 14: 0.4})
    blind = run(tele(now, soc=70), today_only, now=now)
    seeing = run(tele(now, soc=70), with_tomorrow, now=now)
    assert blind.action == CHARGE  # only today known: 0.8 is the cheapest there is
    assert seeing.action == WAIT   # tomorrow's 0.4 is visible across midnight
    assert seeing.numbers["horizon_end"] > (DAY + _dt.timedelta(days=1, hours=12)).isoformat()


# --------------------------------------------------------------------------- it must pay


def test_one_price_all_day_is_never_worth_a_grid_charge():
    # g11 with a flat market: charging now only buys the losses and the wear.
    for soc in (40, 70):
        d = run(tele(NOON, soc=soc), flat_day(DAY, 0.80))
        assert (d.action, d.rule) == (WAIT, "not_worth_it"), d.reason
        assert d.numbers["breakeven_pln_kwh"] == pytest.approx(0.95 * 0.95 * 0.80 - 0.05, abs=1e-4)


def test_a_spread_below_the_losses_and_wear_is_not_worth_it():
    # 0.80 now, 0.85 in the evening: 0.9025 x 0.85 - 0.05 = 0.717 < 0.80.
    prices = flat_day(DAY, 0.80, cheap={i: 0.85 for i in range(68, 84)})
    assert run(tele(NOON, soc=40), prices).rule == "not_worth_it"
    dearer = flat_day(DAY, 0.80, cheap={i: 1.10 for i in range(68, 84)})
    assert run(tele(NOON, soc=40), dearer).action == CHARGE


def test_the_sun_ahead_fills_the_battery_so_the_night_charges_only_until_sunrise():
    # 02:00, cheap night, a peak 13:00-15:00; forecast: the house draws 0.5 kW until 08:00, then
    # a 4 kW surplus until 13:00, which fills the battery by itself.
    night = DAY + _dt.timedelta(hours=2)
    finals = [0.50] * 28 + [0.60] * 24 + [1.40] * 8 + [0.60] * 36
    prices = quarters(DAY, finals)

    def sunny(t):
        return 4.0 if 8 <= (t - DAY) / _dt.timedelta(hours=1) < 13 else -0.5

    def cloudy(t):
        return -0.5

    # SOC 45: 3.3 kWh above the critical 12 % cover the 3.2 kWh the house draws until 08:00.
    d = run(tele(night, soc=45), prices, now=night, surplus_at=sunny)
    assert (d.action, d.rule) == (WAIT, "sun_ahead"), d.reason
    assert d.numbers["sun_ahead_kwh"] >= 4.5
    # SOC 30: only what the night needs, 1.2 kWh more: to 43 %, not to the rule's 85 %.
    d = run(tele(night, soc=30), prices, now=night, surplus_at=sunny)
    assert (d.action, d.rule, d.target_soc_pct) == (CHARGE, "opportunistic", 43), d.reason
    assert d.numbers["rule_target_soc_pct"] == 85
    cloudy_day = run(tele(night, soc=45), prices, now=night, surplus_at=cloudy)
    assert (cloudy_day.action, cloudy_day.target_soc_pct) == (CHARGE, 85)
    assert run(tele(night, soc=45), prices, now=night).target_soc_pct == 85  # no forecast: as before


def test_critical_charges_only_the_reserve_when_cheaper_comes_soon():
    # SOC 10 at 19:00 at 0.99 (g12 peak); 0.71 from 21:00 is not 30 % cheaper, so no wait, but
    # only the 20 % reserve is bought at 0.99: the rest waits for 0.71.
    now = DAY + _dt.timedelta(hours=19)
    prices = quarters(now, [0.99] * 8 + [0.71] * 40 + [0.99] * 16)
    d = run(tele(now, soc=10), prices, now=now)
    assert (d.action, d.rule, d.target_soc_pct) == (CHARGE, "critical", 20), d.reason
    flat = run(tele(now, soc=10), quarters(now, [0.99] * 64), now=now)
    assert (flat.action, flat.target_soc_pct) == (CHARGE, 85)


def test_mistake_inverted_signs_export_is_not_import():
    # Exporting 3 kW (grid_power_w < 0) with PV 4 kW and load 1 kW: a surplus, never a reason to charge.
    t = tele(NOON, soc=40, pv=4000, load=1000, grid_power_w=-3000.0, battery_power_w=0.0)
    assert t.pv_surplus_w == 3000
    assert run(t, flat_day(DAY, 0.2)).rule == "pv_surplus"
    t2 = Telemetry.from_mapping({"ts": NOON, "battery_soc_pct": 50, "grid_power_w": 1200.0,
                                 "battery_power_w": 800.0, "payload": {"e_bat_charge_day": 1.5}})
    assert t2.grid_power_w > 0 and t2.battery_power_w > 0 and t2.battery_charge_kwh == 1.5


def test_mistake_90_95_oscillation():
    # A session charged to 95 % and stopped; SOC sagging to 94 %, 91 %, 86 % never restarts it.
    stopped = session("completed", NOON - _dt.timedelta(hours=1), end=NOON - _dt.timedelta(minutes=30))
    prices = flat_day(DAY, 0.5)
    for soc in (94.5, 91.0, 86.0):
        d = run(tele(NOON, soc=soc), prices, [stopped])
        assert d.action == WAIT, (soc, d)


def test_mistake_flip_flop_price_at_cap():
    # Price hovering around the cap every few minutes: no stop before the minimum run, and no
    # restart within the block after a stop.
    start = NOON
    s = session("active", start)
    for minute, price in ((3, 1.2), (7, 1.0), (11, 1.2)):
        now = start + _dt.timedelta(minutes=minute)
        d = run(tele(now, soc=60), flat_day(DAY, price), [s], now=now)
        assert d.action == CONTINUE
    stopped = session("completed", start, end=start + _dt.timedelta(minutes=15))
    for minute in (16, 20, 29):
        now = start + _dt.timedelta(minutes=minute)
        d = run(tele(now, soc=60), flat_day(DAY, 0.25), [stopped], now=now)
        assert d.action == WAIT


def test_mistake_charging_during_pv_surplus_even_at_low_price():
    for soc in (20, 60, 90):
        d = run(tele(NOON, soc=soc, pv=5000, load=800), flat_day(DAY, 0.1))
        assert d.action == WAIT and d.rule == "pv_surplus"


def test_decision_record_carries_the_whole_decision():
    d = HybridChargingLogic().decide(tele(NOON, soc=90), flat_day(DAY, 0.25), [], NOON)
    rec = d.to_record()
    assert rec["payload"]["rule"] == "super_cheap"
    assert rec["payload"]["numbers"]["quarters_known"] == 48
    assert rec["estimated_cost_pln"] == pytest.approx(rec["energy_kwh"] * 0.25)


def test_every_number_is_config():
    cfg = {"charging": {"super_cheap": {"max_price_pln_kwh": 0.1}}}
    d = run(tele(NOON, soc=90), flat_day(DAY, 0.25), config=cfg)
    assert d.rule != "super_cheap"
