"""The simulated house without the network: sun, load, battery limits, energy conservation."""

from __future__ import annotations

import datetime as dt

import pytest

from gdpo.inverter.simulator import SimClock
from gdpo.inverter.simulator.physics import Plant, PlantConfig
from tests.inverter.inverter_helpers import NIGHT, SUMMER_NOON, WINTER_NOON, make_device


def test_pv_follows_time_of_day_and_season():
    plant = Plant(PlantConfig(), seed=1)
    plant._cloud = 1.0
    assert plant.pv_available_w(NIGHT) == 0.0
    summer, winter = plant.pv_available_w(SUMMER_NOON), plant.pv_available_w(WINTER_NOON)
    assert summer > 2 * winter > 0
    assert summer <= PlantConfig().pv_peak_w
    evening = plant.pv_available_w(SUMMER_NOON.replace(hour=17))
    assert 0 < evening < summer


def test_energy_is_conserved_over_a_day():
    sim = make_device(start=SUMMER_NOON.replace(hour=0), seed=9)
    st = sim.plant.state
    start = dict(st.totals_kwh)
    soc0 = st.soc_pct
    sim.advance(23 * 3600)
    d = {k: st.totals_kwh[k] - start[k] for k in start}
    # sources = sinks: pv + import + discharge == load + export + charge + the inverter's losses
    assert d["pv"] + d["import"] + d["battery_discharge"] == pytest.approx(
        d["load"] + d["export"] + d["battery_charge"] + d["loss"], rel=1e-9, abs=1e-6)
    # the inverter's AC port: what came out of it, less what went in, is the load less the grid
    assert d["ac_export"] - d["ac_import"] == pytest.approx(d["load"] + d["export"] - d["import"], abs=1e-6)
    assert 0.02 * d["ac_export"] < d["loss"] < 0.1 * (d["pv"] + d["battery_discharge"] + d["battery_charge"])
    stored = d["battery_charge"] * 0.95 - d["battery_discharge"] / 0.95
    assert st.soc_pct - soc0 == pytest.approx(stored / 10 * 100, abs=0.01)
    assert d["pv"] > 20          # a June day
    assert 5 < d["load"] < 40


def test_battery_stays_within_limits_and_warms_when_working():
    sim = make_device(initial_soc_pct=12)
    sim.image.set(47545, [1, 100])           # fast charging to 100 %
    temp0 = sim.plant.state.battery_temp_c
    sim.advance(1200)
    st = sim.plant.state
    assert st.battery_w == -5000             # never above the charge limit
    assert st.battery_temp_c > temp0
    highest = 0.0
    for _ in range(18):                      # three hours in 10-minute looks
        sim.advance(600)
        highest = max(highest, st.soc_pct)
    assert 99.5 <= highest <= 100.0          # full (seen within 10 minutes), never beyond
    assert sim.image.get(47545) == 0         # fast charging ended there
    assert st.battery_w >= 0                 # and self-use covers the night load


def test_day_counters_reset_at_local_midnight():
    sim = make_device(start=dt.datetime(2026, 3, 10, 20, 0, tzinfo=dt.timezone.utc))   # 21:00 Warsaw
    sim.advance(2 * 3600)
    assert sim.plant.state.today_kwh["load"] > 0
    sim.advance(1 * 3600)                                                            # 00:00 -> next day
    assert sim.plant.state.today_kwh["load"] < 0.5
    assert sim.plant.state.day == dt.date(2026, 3, 11)


def test_seed_makes_runs_repeatable():
    a, b = make_device(seed=42, speed=0), make_device(seed=42, speed=0)   # time moves only by advance()
    a.advance(7200)
    b.advance(7200)
    assert a.plant.state.totals_kwh == b.plant.state.totals_kwh


def test_accelerated_clock():
    ticks = iter([0.0, 0.0, 2.0])
    clock = SimClock(NIGHT, speed=60, monotonic=lambda: next(ticks))
    assert clock.now() == NIGHT
    assert clock.now() == NIGHT + dt.timedelta(minutes=2)
    with pytest.raises(ValueError):
        SimClock(dt.datetime(2026, 1, 1), speed=1)
