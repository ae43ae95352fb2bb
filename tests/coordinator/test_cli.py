"""``gdpo run`` messages for unreachable parts, and ``gdpo history`` over stored records."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
import socket
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.commands.run import parse_duration
from gdpo.storage import open_storage

UTC = _dt.timezone.utc


def closed_port() -> int:
    """A loopback TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND",
                                                             "TIMESCALEDB_DSN")}


def test_parse_duration():
    assert parse_duration("2h") == _dt.timedelta(hours=2)
    assert parse_duration("90s") == _dt.timedelta(seconds=90)
    assert parse_duration("1.5m") == _dt.timedelta(seconds=90)
    with pytest.raises(Exception):
        parse_duration("soon")


def test_speed_needs_simulate(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--speed", "60", "--config", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "--simulate" in result.output


def test_unreachable_inverter_and_pse_are_named_and_the_run_goes_on(tmp_path):
    cfg = tmp_path / "gdpo.yaml"
    port = closed_port()
    cfg.write_text(yaml.safe_dump({
        "data_storage": {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")}},
        "inverter": {"host": "127.0.0.1", "port": port, "timeout": 0.2, "retries": 0},
        "prices": {"pse_base_url": f"http://127.0.0.1:{closed_port()}/api", "retries": 0, "timeout_s": 0.5},
    }))
    proc = subprocess.run([sys.executable, "-m", "gdpo.cli", "run", "--config", str(cfg), "--duration", "3s"],
                          capture_output=True, text=True, timeout=60, env=clean_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"inverter 127.0.0.1:{port} unreachable" in proc.stdout
    assert "PSE prices not available" in proc.stdout and "self-use until prices are known" in proc.stdout
    assert "Summary" in proc.stdout

    async def states():
        async with open_storage({"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")}}) as s:
            return [r.state for r in await s.read("system_state", _dt.datetime(2000, 1, 1, tzinfo=UTC),
                                                  _dt.datetime(2100, 1, 1, tzinfo=UTC))]
    seen = asyncio.run(states())
    assert "degraded" in seen and seen[-1] == "stopped"


def test_unreachable_database_is_a_clear_error(tmp_path):
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(yaml.safe_dump({"data_storage": {"backend": "sqlite",
                                                    "sqlite": {"path": "/proc/gdpo-cannot-be-here/gdpo.db"}}}))
    proc = subprocess.run([sys.executable, "-m", "gdpo.cli", "run", "--config", str(cfg), "--simulate",
                           "--duration", "1m"], capture_output=True, text=True, timeout=60, env=clean_env(),
                          cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "database (sqlite) unreachable" in proc.stderr


async def _fill(path):
    t = _dt.datetime(2026, 3, 10, 10, tzinfo=UTC)
    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(path)}}) as s:
        await s.write("coordinator_decisions", {"ts": t, "decision_type": "charging", "action": "charge",
                                                "reason": "[normal] cheap", "battery_soc_pct": 60.0,
                                                "price_pln_kwh": 0.5, "payload": {"rule": "normal"}})
        await s.write("system_state", {"ts": t, "state": "monitoring", "uptime_s": 60.0, "metrics": {"soc_pct": 60}})
        await s.write("charging_sessions", {"session_id": "charge:x", "start_ts": t, "status": "completed",
                                            "actual_energy_kwh": 2.0, "cost_pln": 1.0, "origin": "decision"})
        await s.write("daily_stats", {"date": "2026-03-10", "total_grid_import_kwh": 12.5, "source": "computed"})
        await s.write("energy_data", {"ts": t, "battery_soc_pct": 61.5, "grid_power_w": 1234.0})
        await s.write("battery_selling_sessions", {"session_id": "sell:y", "start_ts": t, "status": "completed",
                                                   "energy_sold_kwh": 1.5, "revenue_pln": 1.35})


@pytest.mark.parametrize("what,expect", [("decisions", "charge"), ("state", "monitoring"),
                                         ("sessions", "charge:x"), ("daily", "12.5"), ("energy", "1234"),
                                         ("selling", "sell:y")])
def test_history(tmp_path, what, expect):
    db = tmp_path / "gdpo.db"
    asyncio.run(_fill(db))
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(yaml.safe_dump({"data_storage": {"backend": "sqlite", "sqlite": {"path": str(db)}}}))
    runner = CliRunner(env={"DATABASE_PATH": None, "GDPO_CONFIG": None})
    args = ["history", what, "--from", "2026-03-10", "--to", "2026-03-11", "--config", str(cfg)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert expect in result.output
    as_json = runner.invoke(cli, args + ["--json"])
    rows = json.loads(as_json.output)
    assert len(rows) == 1
    empty = runner.invoke(cli, ["history", what, "--from", "2026-03-11", "--to", "2026-03-12", "--config", str(cfg)])
    assert "(0 " in empty.output


def test_simulated_run_uses_sample_prices_and_contacts_nothing_beyond_loopback(tmp_path):
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(yaml.safe_dump({"data_storage": {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "g.db")}}}))
    # Any attempt at a non-loopback address would go through this proxy, which refuses at once.
    env = dict(clean_env(), HTTPS_PROXY=f"http://127.0.0.1:{closed_port()}", HTTP_PROXY=f"http://127.0.0.1:{closed_port()}",
               NO_PROXY="127.0.0.1,localhost")
    proc = subprocess.run([sys.executable, "-m", "gdpo.cli", "run", "--config", str(cfg), "--simulate",
                           "--speed", "600", "--duration", "20m"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "bundled SAMPLE prices" in proc.stdout
    assert "PSE prices not available" not in proc.stdout and "PSE" not in proc.stderr
