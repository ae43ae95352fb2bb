"""Every panel of the Grafana dashboard (deploy/grafana/dashboards/) runs against a real
TimescaleDB filled by storage writes, with Grafana's macros expanded: a renamed column or
table, or a filter that matches nothing, fails here."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import asyncpg
import pytest

from gdpo.prices import SOURCE_EXPORT, MarketDay, MarketQuarter, sample_day
from gdpo.prices.store import save_day
from gdpo.prices.timeline import local_date
from gdpo.storage import UTC, open_storage
from tests.timescaledb.grafana_sql import expand

pytestmark = pytest.mark.timescaledb

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "gdpo.json"
#: Columns that may be empty although the schema is filled (none today: list them with the reason).
MAY_BE_NULL: dict[tuple[str, str], str] = {}


def panels() -> list[dict]:
    return [p for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"] if p.get("targets")]


def market_day(day: _dt.date, source: str, factor: float = 1.0) -> MarketDay:
    sample = sample_day(day)
    return MarketDay(day, source, tuple(MarketQuarter(q.period_start, q.price_pln_kwh * factor)
                                        for q in sample.quarters), origin="pse")


async def fill(storage, now: _dt.datetime) -> None:
    """A day of readings up to now, decisions, prices of today and tomorrow, sessions, daily stats."""
    start = now.replace(second=0, microsecond=0) - _dt.timedelta(hours=24)
    readings = [{"ts": start + _dt.timedelta(minutes=i), "battery_soc_pct": 20 + (i % 700) / 10,
                 "battery_power_w": 800.0 if i % 3 else -500.0, "pv_power_w": max(0.0, 2000.0 - abs(i - 720) * 4),
                 "grid_power_w": 300.0 if i % 2 else -200.0, "house_consumption_w": 700.0,
                 "price_pln_kwh": 0.8, "tariff_zone": "peak"} for i in range(24 * 60)]
    await storage.write("energy_data", readings)
    actions = ["charge", "wait", "sell", "stop"]
    await storage.write("coordinator_decisions", [
        {"decision_id": f"charging:{(start + _dt.timedelta(minutes=15 * i)).isoformat()}",
         "ts": start + _dt.timedelta(minutes=15 * i), "decision_type": "selling" if actions[i % 4] == "sell" else "charging",
         "action": actions[i % 4], "reason": "[test] filled", "confidence": 0.8, "battery_soc_pct": 40.0,
         "price_pln_kwh": 0.7} for i in range(96)])
    today = local_date(now)
    for day in (today - _dt.timedelta(days=1), today, today + _dt.timedelta(days=1)):
        await save_day(storage, market_day(day, "csdac-pln"), now)
        await save_day(storage, market_day(day, SOURCE_EXPORT, 0.8), now)
    s0 = start + _dt.timedelta(hours=3)
    await storage.write("charging_sessions", [{
        "session_id": f"charge:{s0.isoformat()}", "start_ts": s0, "end_ts": s0 + _dt.timedelta(hours=1),
        "status": "completed", "target_soc_pct": 90.0, "planned_energy_kwh": 4.0, "actual_energy_kwh": 3.8,
        "cost_pln": 1.9, "avg_price_pln_kwh": 0.5, "origin": "plan"}])
    await storage.write("daily_stats", [{
        "date": day, "total_consumption_kwh": 14.2, "total_pv_kwh": 9.1, "total_grid_import_kwh": 8.0,
        "total_grid_export_kwh": 2.9, "avg_price_pln_kwh": 0.74, "source": "computed"}
        for day in (today - _dt.timedelta(days=1), today)])
    await storage.write("system_state", {"ts": now, "state": "monitoring"})
    await storage.flush()


async def test_every_panel_query_runs_on_the_filled_schema(make_config, test_databases, fresh_schema):
    now = _dt.datetime.now(UTC)
    async with open_storage(make_config("timescaledb")) as storage:
        await fill(storage, now)
    start, end = now - _dt.timedelta(hours=24), now + _dt.timedelta(hours=24)
    conn = await asyncpg.connect(test_databases["timescaledb"])
    try:
        await conn.execute(f'SET search_path TO "{fresh_schema}", public')  # Grafana's user sees gdpo's schema first
        checked = 0
        for panel in panels():
            for target in panel["targets"]:
                sql = expand(target["rawSql"], start, end, interval="5m")
                try:
                    rows = await conn.fetch(sql)
                except asyncpg.PostgresError as exc:
                    pytest.fail(f"panel {panel['title']!r}: {type(exc).__name__}: {exc}\n{sql}")
                assert rows, f"panel {panel['title']!r} shows nothing on a filled schema:\n{sql}"
                for column in rows[0].keys():
                    if (panel["title"], column) in MAY_BE_NULL:
                        continue
                    assert any(r[column] is not None for r in rows), \
                        f"panel {panel['title']!r}: column {column!r} is always empty:\n{sql}"
                if target.get("format", "time_series") == "time_series":
                    assert "time" in rows[0].keys(), f"panel {panel['title']!r} has no time column"
                checked += 1
        assert checked >= 10
    finally:
        await conn.close()


async def test_a_renamed_column_fails(make_config, test_databases, fresh_schema):
    """The check above can fail: the same panel with a column that does not exist."""
    energy = next(p for p in panels() if p["title"] == "Energy flows")
    sql = expand(energy["targets"][0]["rawSql"].replace("pv_power_w", "pv_w"), _dt.datetime.now(UTC),
                 _dt.datetime.now(UTC))
    async with open_storage(make_config("timescaledb")):
        pass  # the schema exists
    conn = await asyncpg.connect(test_databases["timescaledb"])
    try:
        await conn.execute(f'SET search_path TO "{fresh_schema}", public')
        with pytest.raises(asyncpg.UndefinedColumnError):
            await conn.fetch(sql)
    finally:
        await conn.close()
