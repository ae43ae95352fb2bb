"""``gdpo plan``: the plan stored with a decision, as a table and an 80-column chart, from a real
SQLite file."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json

import pytest
import yaml
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.coordinator.plan_view import plan_chart, plan_table
from gdpo.storage import open_storage

UTC = _dt.timezone.utc
T0 = _dt.datetime(2026, 3, 10, 21, 0, tzinfo=UTC)  # 22:00 in Warsaw


def plan_rows(start: _dt.datetime, n: int) -> list[dict]:
    """A plan of ``n`` quarters: grid charge in quarters 8..11, discharge in 40..47, else idle."""
    rows, soc = [], 40.0
    for i in range(n):
        action = "charge" if 8 <= i < 12 else "discharge" if 40 <= i < 48 else "idle"
        soc = min(100.0, soc + 10) if action == "charge" else max(10.0, soc - 3) if action == "discharge" else soc
        rows.append({"period_start": (start + _dt.timedelta(minutes=15 * i)).isoformat(), "action": action,
                     "grid_charge_kw": 4.0 if action == "charge" else 0.0,
                     "charge_kw": 4.0 if action == "charge" else 0.0,
                     "discharge_kw": 1.2 if action == "discharge" else 0.0, "soc_pct": soc,
                     "price_pln_kwh": 0.35 if action == "charge" else 1.2 if action == "discharge" else 0.8})
    return rows


def decision(ts: _dt.datetime, plan: list[dict] | None, action: str = "wait") -> dict:
    numbers = {"plan": plan} if plan is not None else {"rule_numbers": 1}
    return {"ts": ts, "decision_type": "charging", "action": action, "reason": "[optimiser] plan: test",
            "battery_soc_pct": 40.0, "price_pln_kwh": 0.8, "payload": {"rule": "optimiser", "numbers": numbers}}


async def fill(path, decisions):
    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(path)}}) as s:
        for d in decisions:
            await s.write("coordinator_decisions", d)


def config(tmp_path, decisions) -> str:
    db = tmp_path / "gdpo.db"
    asyncio.run(fill(db, decisions))
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(yaml.safe_dump({"data_storage": {"backend": "sqlite", "sqlite": {"path": str(db)}}}))
    return str(cfg)


def invoke(*args):
    return CliRunner(env={"DATABASE_PATH": None, "GDPO_CONFIG": None}).invoke(cli, ["plan", *args])


def test_plan_table_and_chart_of_the_latest_decision(tmp_path):
    older = plan_rows(T0, 8)
    latest = plan_rows(T0 + _dt.timedelta(minutes=30), 64)  # 16 h: one column per quarter
    cfg = config(tmp_path, [decision(T0, older), decision(T0 + _dt.timedelta(minutes=30), latest),
                            decision(T0 + _dt.timedelta(minutes=45), None, action="sell")])
    result = invoke("--config", cfg)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    header = next(i for i, line in enumerate(lines) if line.startswith("quarter"))
    assert lines[header].split()[:3] == ["quarter", "action", "battery"]
    table = lines[header + 1:header + 1 + 64]
    assert table[0].split()[:3] == ["2026-03-10", "22:30", "idle"]  # local time
    charge = table[8].split()
    assert charge[2] == "charge" and charge[3] == "+4.00" and charge[4] == "4.00" and charge[6] == "0.3500"
    assert table[40].split()[2:4] == ["discharge", "-1.20"]
    chart = lines[header + 1 + 64:]
    assert any("expected SOC" in line for line in chart) and any("price PLN/kWh" in line for line in chart)
    marks = next(line for line in chart if line.lstrip().startswith("+"))
    assert marks.strip()[1:] == "." * 8 + "C" * 4 + "." * 28 + "D" * 8 + "." * 16
    assert sum(line.count("*") for line in chart if "|" in line) == 64  # one SOC point per column
    assert "22" not in marks and chart[-1].split()[:2] == ["23", "00"]  # hour labels under the columns


def test_plan_at_a_time_and_as_json(tmp_path):
    older = plan_rows(T0, 8)
    cfg = config(tmp_path, [decision(T0, older), decision(T0 + _dt.timedelta(minutes=30), plan_rows(T0, 4))])
    result = invoke("--config", cfg, "--at", "2026-03-10T22:20", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ts"] == T0.isoformat() and out["plan"] == older


def test_a_long_plan_fits_80_columns():
    rows = plan_rows(T0, 190)  # almost two days ahead
    chart = plan_chart(rows, "Europe/Warsaw").splitlines()
    assert all(len(line) <= 80 for line in chart)
    assert "45 min per column" in chart[0]  # 190 quarters in 64 columns of 3
    assert len(plan_table(rows, "Europe/Warsaw").splitlines()) == 191


@pytest.mark.parametrize("decisions", [[], [decision(T0, None)]], ids=["no decisions", "rules only"])
def test_no_plan_is_a_clear_error(tmp_path, decisions):
    result = invoke("--config", config(tmp_path, decisions))
    assert result.exit_code == 1
    assert "no decision with a plan" in result.output and "rules strategy" in result.output
