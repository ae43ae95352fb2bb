"""``gdpo run --simulate`` as the README runs it: its own database, every record marked
simulated, the sample prices stored, nothing stamped after the real now; then ``gdpo history
decisions``, ``gdpo backtest`` and ``gdpo plan`` over that run (real SQLite files, the real
``goodwe`` library against the simulator on loopback)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.commands.run import RunOptions, check_window
from gdpo.config import DEFAULT_SQLITE_PATH, load_config
from gdpo.coordinator.simulation import auto_start, catch_up_at, simulated_config
from gdpo.storage import open_storage
from gdpo.storage.aggregate import zone
from gdpo.storage.records import KIND_NAMES
from tests.coordinator.test_cli import clean_env, closed_port

UTC = _dt.timezone.utc
TZ = "Europe/Warsaw"
EVER = (_dt.datetime(2000, 1, 1, tzinfo=UTC), _dt.datetime(2100, 1, 1, tzinfo=UTC))
SIMULATED_DB = Path("data") / "goodwe_energy-simulated.db"


def gdpo(*args, cwd: Path, timeout: float = 120, **env_vars: str) -> subprocess.CompletedProcess:
    """Run the ``gdpo`` command in ``cwd`` with no config file, no DATABASE_PATH (unless given)
    and no way out of this machine (any non-loopback request would go through a proxy that
    refuses at once)."""
    env = dict(clean_env(), HTTPS_PROXY=f"http://127.0.0.1:{closed_port()}",
               HTTP_PROXY=f"http://127.0.0.1:{closed_port()}", NO_PROXY="127.0.0.1,localhost", **env_vars)
    return subprocess.run([sys.executable, "-m", "gdpo.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


async def everything(path: Path) -> dict:
    """Every stored record of every kind in the SQLite file ``path``."""
    async with open_storage({"backend": "sqlite", "sqlite": {"path": str(path)}}) as s:
        out = {}
        for kind in KIND_NAMES:
            bounds = (EVER[0].date(), EVER[1].date()) if kind == "daily_stats" else EVER
            out[kind] = await s.read(kind, *bounds)
        return out


STAMPS = {"energy_data": ("ts",), "system_state": ("ts",), "coordinator_decisions": ("ts",),
          "charging_sessions": ("start_ts", "end_ts"), "battery_selling_sessions": ("start_ts", "end_ts"),
          "price_forecasts": ("fetched_at", "published_at"), "pv_forecasts": ("made_at",)}


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    """The README's first command, sped up: 1 h of simulated time at 600x (6 s), then the records."""
    cwd = tmp_path_factory.mktemp("readme")
    proc = gdpo("run", "--simulate", "--speed", "600", "--duration", "1h", cwd=cwd)
    ended = _dt.datetime.now(UTC)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc, ended, asyncio.run(everything(cwd / SIMULATED_DB))


def test_simulated_run_stores_into_its_own_database(simulated_run):
    cwd, proc, _, records = simulated_run
    assert (cwd / SIMULATED_DB).is_file()
    assert not (cwd / "data" / "goodwe_energy.db").exists()
    assert f"storage sqlite {(cwd / SIMULATED_DB).resolve()} (records marked simulated)" in proc.stdout
    assert records["coordinator_decisions"] and records["energy_data"] and records["system_state"]


def test_every_record_of_a_simulated_run_is_marked(simulated_run):
    records = simulated_run[3]
    for kind in ("energy_data", "system_state", "coordinator_decisions", "daily_stats", "price_forecasts"):
        assert records[kind], f"the run stores {kind}"
    for kind, rows in records.items():
        assert all(r.payload.get("simulated") is True for r in rows), kind


def test_simulated_run_stores_the_sample_prices_it_used(simulated_run):
    records = simulated_run[3]
    prices = records["price_forecasts"]
    assert all(p.payload.get("sample") is True and p.source == "csdac-pln" for p in prices)
    by_day: dict = {}
    for p in prices:
        by_day.setdefault(p.business_date, []).append(p)
    start = records["system_state"][0].ts.astimezone(zone(TZ)).date()
    assert start in by_day and all(len(day) in (92, 96, 100) for day in by_day.values())
    used = {d.ts: d.price_pln_kwh for d in records["coordinator_decisions"]}
    assert used and all(price is not None for price in used.values())


def test_nothing_is_stamped_after_the_real_now(simulated_run):
    _, _, ended, records = simulated_run
    for kind, fields in STAMPS.items():
        for r in records[kind]:
            if getattr(r, "status", None) == "planned":  # a plan of future quarters, as in a real run:
                assert _dt.datetime.fromisoformat(r.payload["planned_at"]) <= ended  # made before the real now
                continue
            for name in fields:
                value = getattr(r, name)
                assert value is None or value <= ended, f"{kind}.{name} {value} after {ended}"
    assert all(d.date <= ended.astimezone(zone(TZ)).date() for d in records["daily_stats"])
    last = max(s.ts for s in records["system_state"])
    assert ended - last < _dt.timedelta(minutes=2), "the simulated window ends at the real now"
    first = min(s.ts for s in records["system_state"])
    assert last - first > _dt.timedelta(minutes=55), "the whole hour was simulated"


def test_history_decisions_lists_every_decision_of_the_run(simulated_run):
    cwd, proc, _, records = simulated_run
    result = gdpo("history", "decisions", "--simulated", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    listed = [r["decision_id"] for r in json.loads(result.stdout)]
    assert listed == [d.decision_id for d in records["coordinator_decisions"]]
    stored = int(next(line for line in proc.stdout.splitlines() if "stored:" in line).split()[1])
    assert len(listed) == stored
    table = gdpo("history", "decisions", "--simulated", cwd=cwd)
    assert f"({stored} coordinator_decisions records)" in table.stdout
    empty = cwd / "empty.yaml"  # a production database without records: the hint names the simulated one
    empty.write_text(yaml.safe_dump({"data_storage": {"sqlite": {"path": str(cwd / "prod" / "gdpo.db")}}}))
    assert gdpo("db", "init", "--config", str(empty), cwd=cwd).returncode == 0
    hint = gdpo("history", "decisions", "--config", str(empty), cwd=cwd)
    assert "(0 coordinator_decisions records)" in hint.stdout and "add --simulated" in hint.stderr


def test_backtest_over_the_window_runs(simulated_run):
    cwd, _, _, records = simulated_run
    days = sorted({s.ts.astimezone(zone(TZ)).date() for s in records["system_state"]})
    result = gdpo("backtest", "--simulated", "--from", str(days[0]), "--to", str(days[-1]), "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out["strategies"]) >= {"none", "self", "rules", "optimiser"}
    assert out["strategies"]["none"]["load_kwh"] > 0
    by_default = gdpo("backtest", "--simulated", "--strategy", "none,self", cwd=cwd)
    assert by_default.returncode == 0, by_default.stderr
    assert f"backtest {days[0]}" in by_default.stdout or "backtest" in by_default.stdout


def test_a_backtest_of_the_real_history_leaves_simulated_records_out(simulated_run):
    cwd, _, _, records = simulated_run
    day = str(records["system_state"][0].ts.astimezone(zone(TZ)).date())
    real = gdpo("backtest", "--from", day, "--to", day, cwd=cwd, DATABASE_PATH=str(SIMULATED_DB))
    assert real.returncode == 2 and "no prices stored" in real.stderr
    named = gdpo("backtest", "--simulated", "--from", day, "--to", day, "--strategy", "self", cwd=cwd,
                 DATABASE_PATH=str(SIMULATED_DB))
    assert named.returncode == 0, named.stderr


def test_plan_of_the_run(simulated_run):
    cwd, _, _, records = simulated_run
    result = gdpo("plan", "--simulated", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "expected SOC" in result.stdout and "price PLN/kWh" in result.stdout
    latest = max(records["coordinator_decisions"], key=lambda d: d.ts)
    as_json = json.loads(gdpo("plan", "--simulated", "--json", cwd=cwd).stdout)
    assert as_json["decision_id"] == latest.decision_id
    assert as_json["plan"] == latest.payload["numbers"]["plan"]


def test_without_a_simulated_run_the_commands_say_so(tmp_path):
    for args in (("history", "decisions"), ("backtest",), ("plan",)):
        result = gdpo(*args, "--simulated", cwd=tmp_path, timeout=60)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "no simulated database" in result.stderr and "gdpo run --simulate" in result.stderr
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- the database


def test_the_simulated_database_is_chosen_unless_a_file_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config file in the working directory
    default = load_config(None, env={})
    assert simulated_config(default).get("data_storage.sqlite.path") == str(SIMULATED_DB)
    shipped = tmp_path / "shipped.yaml"  # the shipped config restates the default path
    shipped.write_text(yaml.safe_dump({"data_storage": {"sqlite": {"path": DEFAULT_SQLITE_PATH},
                                                        "data_directory": "/opt/x/data",
                                                        "spool": {"directory": "/opt/x/spool"}}}))
    simulated = simulated_config(load_config(shipped, env={}))
    assert simulated.get("data_storage.sqlite.path") == str(SIMULATED_DB)
    assert simulated.get("data_storage.data_directory") == "data" and simulated.get("data_storage.spool.directory") is None
    named = tmp_path / "named.yaml"
    named.write_text(yaml.safe_dump({"data_storage": {"sqlite": {"path": str(tmp_path / "mine.db")}}}))
    assert simulated_config(load_config(named, env={})).get("data_storage.sqlite.path") == str(tmp_path / "mine.db")
    env = load_config(shipped, env={"DATABASE_PATH": "x/env.db"})
    assert simulated_config(env).get("data_storage.sqlite.path") == "x/env.db"
    tsdb = load_config({"data_storage": {"backend": "json_legacy", "json_legacy": {"directory": str(tmp_path)}}})
    assert simulated_config(tsdb) is tsdb


# --------------------------------------------------------------------------- the window


def test_the_automatic_start_ends_the_window_at_the_real_now():
    now = _dt.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    start = auto_start(now, _dt.timedelta(hours=2), 60)
    assert start == now - _dt.timedelta(hours=2) + _dt.timedelta(minutes=2)
    real_end = now + _dt.timedelta(hours=2) / 60
    assert start + _dt.timedelta(hours=2) == real_end
    assert auto_start(now, None, 1) == now and auto_start(now, _dt.timedelta(hours=1), 0.5) == now


def test_the_run_stops_where_the_simulated_clock_reaches_the_real_one():
    now = _dt.datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    sim = now - _dt.timedelta(hours=1)
    meet = catch_up_at(sim, now, 61)
    real_then = now + (meet - sim) / 61
    assert abs((meet - real_then).total_seconds()) < 1e-3
    assert catch_up_at(sim, now, 1) is None and catch_up_at(now, sim, 10) == now


@pytest.mark.parametrize("options,message", [
    (dict(start_hours=+1, duration_h=1, speed=60), "in the future"),
    (dict(start_hours=-1, duration_h=2, speed=60), "after the real time"),
    (dict(start_hours=None, duration_h=None, speed=60), "needs --duration"),
])
def test_windows_that_would_reach_the_future_are_refused(options, message):
    now = _dt.datetime.now(UTC)
    start = None if options["start_hours"] is None else now + _dt.timedelta(hours=options["start_hours"])
    duration = None if options["duration_h"] is None else _dt.timedelta(hours=options["duration_h"])
    import click

    with pytest.raises(click.UsageError, match=message):
        check_window(RunOptions(simulate=True, speed=options["speed"], duration=duration, start=start), now)
    check_window(RunOptions(simulate=True, speed=60, duration=_dt.timedelta(hours=1),
                            start=now - _dt.timedelta(hours=2)), now)


def test_a_future_start_is_refused_on_the_command_line(tmp_path):
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(yaml.safe_dump({"data_storage": {"sqlite": {"path": str(tmp_path / "g.db")}}}))
    later = (_dt.datetime.now(zone(TZ)) + _dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    result = CliRunner().invoke(cli, ["run", "--simulate", "--start", later, "--duration", "1h", "--config", str(cfg)])
    assert result.exit_code == 2 and "in the future" in result.output
    assert not (tmp_path / "g.db").exists()
