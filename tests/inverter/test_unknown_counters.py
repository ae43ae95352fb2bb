"""Consumers of the converted readings keep an unknown counter unknown: a capture without
meter data (GW10K-ET fw1023) gives no grid energy in the daily stats and no grid delta in a
session, where the old conversion gave a silent 0; the integrated AC power (or, without it,
the battery's lifetime counter) still measures the session, and the quarter says so."""

from __future__ import annotations

import dataclasses
import datetime as dt

from gdpo.coordinator.daily_stats import compute_daily_stats
from gdpo.coordinator.metering import SessionMeter
from gdpo.coordinator.model import PriceQuarter, Telemetry
from gdpo.inverter.snapshot import snapshot_from_sensors
from gdpo.storage.facade import open_storage
from gdpo.storage.records import make_record
from tests.inverter.capture_replay import replay

UTC = dt.timezone.utc
DAY = dt.date(2026, 6, 10)
START = dt.datetime(2026, 6, 9, 22, 0, tzinfo=UTC)          # local midnight in Warsaw (CEST)


async def stored_records(scenario: str, count: int, step_kwh: float):
    """``count`` readings a quarter apart, built from a capture, the lifetime counters rising."""
    _, raw = await replay(scenario)
    out = []
    for i in range(count):
        data = {**raw, "e_load_total": raw["e_load_total"] + step_kwh * i,
                "e_bat_charge_total": raw["e_bat_charge_total"] + step_kwh * i}
        if raw["meter_e_total_imp"]:
            data["meter_e_total_imp"] = raw["meter_e_total_imp"] + step_kwh * i
        snap = snapshot_from_sensors(data, START + dt.timedelta(minutes=15 * i + 1))
        payload = {k: v for k, v in snap.extras().items() if v is not None}
        out.append(make_record("energy_data", {**snap.energy_fields(), "payload": payload}))
    return out


def prices(n: int) -> list[PriceQuarter]:
    return [PriceQuarter(START + dt.timedelta(minutes=15 * i), 0.5, 0.8) for i in range(n)]


async def daily(tmp_path, scenario: str):
    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")}}) as storage:
        await storage.write("energy_data", await stored_records(scenario, 8, 0.25))
        return await compute_daily_stats(storage, DAY, prices(96), "Europe/Warsaw")


async def test_daily_stats_without_meter_data_say_unknown(tmp_path):
    stats = await daily(tmp_path, "GW10K-ET fw1023")
    assert stats.total_grid_import_kwh is None and stats.total_grid_export_kwh is None
    assert stats.payload["import_cost_pln"] is None
    assert stats.total_consumption_kwh is not None          # the house counter is still there


async def test_daily_stats_with_meter_data_count_it(tmp_path):
    stats = await daily(tmp_path, "GW10K-ET fw617")
    assert round(stats.total_grid_import_kwh, 3) == 1.75    # 7 quarters x 0.25 kWh
    assert stats.payload["import_cost_pln"] is not None


async def test_session_without_meter_data_is_measured_by_the_integrated_ac_power():
    records = await stored_records("GW10K-ET fw1023", 3, 0.5)
    meter = SessionMeter("import")
    readings = [Telemetry.from_mapping(rec) for rec in records]
    for q, t in zip(prices(3), readings):
        meter.observe(t, q.period_start, q.final_pln_kwh)
    assert {q["measured_by"] for q in meter.to_json()} == {"power"}
    assert {q["grid_kwh"] for q in meter.to_json()} == {None}
    t = readings[0]   # the capture's powers: every reading has the same
    per_interval = max(max(t.grid_power_w, 0.0) - t.house_consumption_w, 0.0) * 0.25 / 1000
    # the capture's battery discharges (11 W import, 823 W load): nothing went from the grid into
    # the inverter, a measured 0, not an unknown
    assert meter.energy_kwh is not None and round(meter.energy_kwh, 6) == round(2 * per_interval, 6) == 0.0


async def test_session_without_meter_data_nor_grid_power_is_measured_by_the_battery_counter():
    records = await stored_records("GW10K-ET fw1023", 3, 0.5)
    meter = SessionMeter("import")
    for q, rec in zip(prices(3), records):
        meter.observe(dataclasses.replace(Telemetry.from_mapping(rec), grid_power_w=None), q.period_start,
                      q.final_pln_kwh)
    assert {q["measured_by"] for q in meter.to_json()} == {"battery"}
    assert round(meter.energy_kwh, 6) == 1.0


async def test_session_with_no_counter_at_all_is_unknown_not_zero():
    records = await stored_records("GW10K-ET fw1023", 2, 0.5)
    meter = SessionMeter("import")
    for q, rec in zip(prices(2), records):
        t = dataclasses.replace(Telemetry.from_mapping(rec), battery_charge_kwh=None, grid_power_w=None)
        meter.observe(t, q.period_start, q.final_pln_kwh)
    assert meter.to_json()[0]["measured_by"] == "unknown" and meter.to_json()[0]["energy_kwh"] is None
    assert meter.energy_kwh is None and meter.cost_pln is None and meter.avg_price_pln_kwh is None
