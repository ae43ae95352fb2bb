"""A generator of synthetic legacy trees (the shapes of LEGACY_FORMATS.md) for benchmarks and tests.

``generate_tree(root, days)`` writes, per local day: 96 charging decision files, 4 hybrid
decision files and one selling decision file (``out/energy_data/``), a composite-era
state NDJSON file with a state every 15 minutes, an energy array with a row every minute,
a daily plan, a daily snapshot; plus ``data/price_history.json``. Returns the number of
records per kind a correct import stores.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import random
from pathlib import Path


def _state(ts: _dt.datetime, i: int, soc: float, rng: random.Random) -> dict:
    cd_ts = ts - _dt.timedelta(seconds=30)
    pv = max(0, int(6000 * math.sin(math.pi * (ts.hour - 6) / 12))) if 6 <= ts.hour < 18 else 0
    load = rng.randint(200, 2500)
    batt = rng.choice([-4500, 0, 1200])
    grid = pv + batt - load  # GoodWe: + export
    return {"timestamp": ts.isoformat(), "state": "monitoring", "uptime_seconds": 900.0 * i,
            "current_data": {
                "timestamp": cd_ts.isoformat(), "date": cd_ts.date().isoformat(), "time": cd_ts.strftime("%H:%M:%S"),
                "battery": {"soc_percent": round(soc), "voltage": 410.2, "current": -batt / 410,
                            "power_w": batt, "power_kw": batt / 1000, "temperature": 21.5,
                            "charging_status": batt < 0, "fast_charging_enabled": False},
                "photovoltaic": {"current_power_w": pv, "current_power_kw": pv / 1000, "daily_production_kwh": 3.2},
                "grid": {"power_w": grid, "power_kw": grid / 1000, "voltage": 231.0, "flow_direction": "Export",
                         "total_exported_kwh": 5000 + i * 0.01, "total_imported_kwh": 9000 + i * 0.02},
                "house_consumption": {"current_power_w": load, "current_power_kw": load / 1000,
                                      "total_consumption_kwh": 20000 + i * 0.03},
                "pv": {"power": pv, "power_w": pv, "total_power": pv},
            },
            "performance_metrics": {"pv_efficiency": 0, "battery_utilization": 0, "grid_dependency": 0,
                                    "last_update": str(ts)},
            "decision_count": i}


def generate_tree(root: str | Path, days: int = 30, start: _dt.date = _dt.date(2025, 11, 1), seed: int = 1) -> dict:
    """Write a legacy tree under ``root`` (out/ and data/); return expected record counts."""
    rng = random.Random(seed)
    root = Path(root)
    out, energy_dir, data = root / "out", root / "out" / "energy_data", root / "data"
    for d in (energy_dir, data, out / "multi_session_data", out / "daily_snapshots"):
        d.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(["energy_data", "system_state", "coordinator_decisions", "charging_sessions",
                            "battery_selling_sessions", "daily_stats", "price_forecasts", "pv_forecasts"], 0)
    prices = []
    soc = 50.0
    for day_i in range(days):
        day = start + _dt.timedelta(days=day_i)
        midnight = _dt.datetime(day.year, day.month, day.day)
        for q in range(96):
            ts = midnight + _dt.timedelta(minutes=15 * q, seconds=rng.randint(1, 9), microseconds=rng.randint(1, 999999))
            price = round(0.3 + 0.4 * rng.random(), 5)
            prices.append([(midnight + _dt.timedelta(minutes=15 * (q + 1))).isoformat(), price])
            charge = q < 16 and soc < 80
            decision = {"timestamp": ts.isoformat(), "action": "charge" if charge else "wait", "source": "grid",
                        "duration": 0.5 if charge else 0, "energy_kwh": 2.4 if charge else 0,
                        "estimated_cost_pln": round(2.4 * price, 4) if charge else 0, "estimated_savings_pln": 0,
                        "confidence": 0.8 if charge else 0.4,
                        "reason": "Proactive charging: price good (\u2264 0.7 PLN/kWh)" if charge else "Wait",
                        "priority": "proactive" if charge else "low", "battery_soc": round(soc),
                        "pv_power": 0, "house_consumption": 400, "current_price": price,
                        "cheapest_price": 0.3, "cheapest_hour": 3}
            (energy_dir / f"charging_decision_{ts:%Y%m%d_%H%M%S}.json").write_text(json.dumps(decision, indent=2))
            soc = min(95.0, soc + 1.5) if charge else max(10.0, soc - 0.4)
        for h in range(4):
            ts = midnight + _dt.timedelta(hours=10 + h, minutes=7, seconds=41, microseconds=h + 1)
            hybrid = {"timestamp": ts.isoformat(), "action": "start_pv_charging", "charging_source": "pv",
                      "duration_hours": 1.0, "energy_kwh": 2.0, "estimated_cost_pln": 0.0,
                      "estimated_savings_pln": 1.1, "confidence": 0.85, "reason": "PV surplus",
                      "pv_contribution_kwh": 2.0, "grid_contribution_kwh": 0.0}
            (energy_dir / f"charging_decision_{ts:%Y%m%d_%H%M%S}.json").write_text(json.dumps(hybrid, indent=2))
        ts = midnight + _dt.timedelta(hours=17, seconds=9, microseconds=727590)
        selling = {"timestamp": ts.isoformat(), "action": "battery_selling", "decision": "start_selling",
                   "confidence": 0.8, "expected_revenue_pln": 9.36, "selling_power_w": 5000,
                   "estimated_duration_hours": 1.5, "reasoning": "Good selling opportunity",
                   "safety_checks_passed": True, "risk_level": "low", "current_price_pln": 1.25,
                   "battery_soc": 90, "pv_power": 0, "house_consumption": 1116, "energy_sold_kwh": 7.5,
                   "revenue_per_kwh_pln": 1.25, "safety_status": "safe"}
        (energy_dir / f"battery_selling_decision_{ts:%Y%m%d_%H%M%S}.json").write_text(json.dumps(selling, indent=2))
        counts["coordinator_decisions"] += 101
        states = [_state(midnight + _dt.timedelta(minutes=15 * q, seconds=2, microseconds=551870), day_i * 96 + q,
                         soc, rng) for q in range(96)]
        (out / f"coordinator_state_{day:%Y%m%d}.json").write_text("".join(json.dumps(s) + "\n" for s in states))
        counts["system_state"] += 96
        rows = []
        for m in range(1440):
            ts = midnight + _dt.timedelta(minutes=m, seconds=1, microseconds=826614)
            rows.append({"timestamp": ts.isoformat(), "battery_soc": round(soc, 1), "pv_power": 0,
                         "grid_power": -rng.randint(100, 5000), "house_consumption": rng.randint(200, 900),
                         "battery_power": rng.choice([-4500, 0, 300]), "grid_voltage": 229.5, "grid_frequency": None,
                         "battery_voltage": 415.5, "battery_current": -10.8, "battery_temperature": 20.9,
                         "price_pln": None})
        (energy_dir / f"energy_data_{day:%Y-%m-%d}.json").write_text(json.dumps(rows, indent=2))
        counts["energy_data"] += 1440 + 96
        plan = {"date": day.isoformat(), "total_sessions": 1, "sessions": [
            {"session_id": f"{day:%Y%m%d}_1", "start_time": str(midnight + _dt.timedelta(hours=2)),
             "end_time": str(midnight + _dt.timedelta(hours=5)), "duration_hours": 3.0, "target_energy_kwh": 9.0,
             "status": "completed", "priority": 1, "actual_energy_kwh": None, "actual_cost_pln": None}],
            "created_at": midnight.isoformat(), "status": "active"}
        (out / "multi_session_data" / f"daily_plan_{day:%Y%m%d}.json").write_text(json.dumps(plan, indent=2))
        counts["charging_sessions"] += 1
        snap = {"date": day.isoformat(), "created_at": (midnight + _dt.timedelta(days=1)).isoformat(),
                "total_decisions": 101, "charging_count": 16, "wait_count": 84, "selling_count": 1,
                "total_energy_kwh": 20.0, "total_cost_pln": 9.1, "selling_revenue_pln": 9.36,
                "price_stats": {"min": 0.3, "max": 0.7, "avg": 0.5}}
        (out / "daily_snapshots" / f"snapshot_{day:%Y%m%d}.json").write_text(json.dumps(snap, indent=2))
        counts["daily_stats"] += 1
    (data / "price_history.json").write_text(json.dumps(prices))
    counts["price_forecasts"] = len(prices)
    return counts
