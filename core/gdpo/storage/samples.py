"""Deterministic sample records of every kind, with every field set, for tests and benchmarks."""

from __future__ import annotations

import datetime as _dt
import random
from typing import Any

from gdpo.storage.records import UTC, Record, make_record

__all__ = ["BASE_TS", "UNICODE_TEXT", "full_record", "minimal_record", "energy_series"]

BASE_TS = _dt.datetime(2025, 11, 17, 0, 0, tzinfo=UTC)
UNICODE_TEXT = "Tania energia ≤ 0,45 zł/kWh ⚡ — ładowanie źródło: sieć; 電池 🔋"


def full_record(kind: str, i: int = 0, base: _dt.datetime = BASE_TS, rng: random.Random | None = None) -> Record:
    """Record number ``i`` of ``kind``, every column set and a nested, Unicode payload."""
    rng = rng or random.Random(i)
    ts = base + _dt.timedelta(minutes=15 * i)
    payload: dict[str, Any] = {"n": i, "note": UNICODE_TEXT, "nested": {"list": [1, 2.5, None, "x"], "flag": True}}
    values: dict[str, Any]
    if kind == "energy_data":
        values = dict(ts=ts, battery_soc_pct=round(rng.uniform(5, 100), 3), battery_power_w=rng.uniform(-5000, 5000),
                      battery_voltage_v=rng.uniform(48, 56), battery_current_a=rng.uniform(-100, 100),
                      battery_temp_c=rng.uniform(5, 40), pv_power_w=rng.uniform(0, 9000),
                      grid_power_w=rng.uniform(-8000, 8000), grid_voltage_v=rng.uniform(225, 245),
                      house_consumption_w=rng.uniform(200, 6000), grid_import_total_kwh=1000 + i * 0.1,
                      grid_export_total_kwh=500 + i * 0.05, pv_energy_today_kwh=rng.uniform(0, 40),
                      house_consumption_total_kwh=2000 + i * 0.2, price_pln_kwh=rng.uniform(-0.2, 1.5),
                      tariff_zone=rng.choice(["peak", "off_peak"]))
    elif kind == "system_state":
        values = dict(ts=ts, state=rng.choice(["monitoring", "charging", "degraded"]), uptime_s=60.0 * i,
                      last_error=f"błąd {i}" if i % 3 == 0 else None, metrics={"loop_ms": rng.uniform(1, 30), "i": i})
    elif kind == "coordinator_decisions":
        values = dict(ts=ts, decision_type=rng.choice(["charging", "selling"]), action=rng.choice(["charge", "wait"]),
                      reason=UNICODE_TEXT, confidence=rng.uniform(0, 1), battery_soc_pct=rng.uniform(0, 100),
                      price_pln_kwh=rng.uniform(0, 1.5), energy_kwh=rng.uniform(0, 10),
                      estimated_cost_pln=rng.uniform(0, 5), estimated_savings_pln=rng.uniform(0, 2),
                      expected_revenue_pln=rng.uniform(0, 3), source_module="HybridChargingLogic")
    elif kind == "charging_sessions":
        values = dict(session_id=f"charge-{i:05d}", start_ts=ts, end_ts=ts + _dt.timedelta(hours=1),
                      status=rng.choice(["planned", "completed"]), target_soc_pct=90.0,
                      planned_energy_kwh=rng.uniform(1, 10), actual_energy_kwh=rng.uniform(1, 10),
                      cost_pln=rng.uniform(0, 5), avg_price_pln_kwh=rng.uniform(0.2, 0.9), origin="plan")
    elif kind == "battery_selling_sessions":
        values = dict(session_id=f"sell-{i:05d}", start_ts=ts, end_ts=ts + _dt.timedelta(hours=1), status="completed",
                      start_soc_pct=90.0, end_soc_pct=60.0, energy_sold_kwh=rng.uniform(1, 6),
                      revenue_pln=rng.uniform(1, 5), avg_price_pln_kwh=rng.uniform(0.8, 1.2), selling_power_w=5000.0)
    elif kind == "daily_stats":
        values = dict(date=(base + _dt.timedelta(days=i)).date(), total_consumption_kwh=rng.uniform(5, 30),
                      total_pv_kwh=rng.uniform(0, 40), total_grid_import_kwh=rng.uniform(0, 20),
                      total_grid_export_kwh=rng.uniform(0, 20), avg_price_pln_kwh=rng.uniform(0.3, 1),
                      grid_charge_kwh=rng.uniform(0, 10), grid_charge_cost_pln=rng.uniform(0, 5),
                      selling_revenue_pln=rng.uniform(0, 5), source="computed")
    elif kind == "price_forecasts":
        values = dict(period_start=ts, source="csdac-pln", period_minutes=15, price_pln_kwh=rng.uniform(-0.3, 1.2),
                      price_kind="market", business_date=ts.date(), published_at=ts - _dt.timedelta(hours=11),
                      fetched_at=ts - _dt.timedelta(hours=10, microseconds=-123456))
    elif kind == "pv_forecasts":
        values = dict(period_start=ts, source="historical_pattern", period_minutes=60, power_w=rng.uniform(0, 8000),
                      confidence=rng.uniform(0, 1), made_at=ts - _dt.timedelta(hours=1))
    else:
        raise KeyError(kind)
    values["payload"] = payload
    return make_record(kind, values)


def minimal_record(kind: str, i: int = 0, base: _dt.datetime = BASE_TS) -> Record:
    """Record number ``i`` of ``kind`` with only the required fields (every other is None)."""
    ts = base + _dt.timedelta(minutes=15 * i)
    required = {
        "energy_data": dict(ts=ts),
        "system_state": dict(ts=ts, state="monitoring"),
        "coordinator_decisions": dict(ts=ts, decision_type="charging", action="wait"),
        "charging_sessions": dict(session_id=f"m-{i}", start_ts=ts, status="planned"),
        "battery_selling_sessions": dict(session_id=f"m-{i}", start_ts=ts, status="planned"),
        "daily_stats": dict(date=(base + _dt.timedelta(days=i)).date()),
        "price_forecasts": dict(period_start=ts, source="test", period_minutes=15, price_pln_kwh=0.5),
        "pv_forecasts": dict(period_start=ts, source="test", period_minutes=60),
    }[kind]
    return make_record(kind, required)


def energy_series(start: _dt.datetime, count: int, step_s: int = 60, seed: int = 1) -> list[Record]:
    """``count`` energy_data records every ``step_s`` seconds from ``start``, with counters that rise."""
    rng = random.Random(seed)
    out = []
    imp = exp = load_total = 0.0
    from gdpo.storage.records import EnergyData

    for i in range(count):
        ts = start + _dt.timedelta(seconds=step_s * i)
        pv = max(0.0, 6000 * (1 - abs((ts.hour + ts.minute / 60) - 12) / 6)) + rng.uniform(0, 50)
        load = rng.uniform(300, 2500)
        batt = rng.uniform(-2000, 2000)
        grid = load + batt - pv
        imp += max(grid, 0) * step_s / 3.6e6
        exp += max(-grid, 0) * step_s / 3.6e6
        load_total += load * step_s / 3.6e6
        out.append(EnergyData(ts=ts, battery_soc_pct=rng.uniform(10, 100), battery_power_w=batt, pv_power_w=pv,
                              grid_power_w=grid, house_consumption_w=load, grid_import_total_kwh=imp,
                              grid_export_total_kwh=exp, house_consumption_total_kwh=load_total,
                              price_pln_kwh=rng.uniform(0.2, 1.2), battery_temp_c=rng.uniform(15, 30)))
    return out
