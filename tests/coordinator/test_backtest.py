"""The backtest on a real SQLite file: scenarios, energy balance, honesty, and the CLI."""

from __future__ import annotations

import datetime as _dt
import json

import pytest
import yaml
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.coordinator import synthetic_history
from gdpo.coordinator.backtest import BacktestError, _known_prices, local_day_range, run_backtest
from gdpo.coordinator.backtest_data import load_replay
from gdpo.coordinator.settings import defaults
from gdpo.storage import open_storage

TZ = "Europe/Warsaw"
ALL = ["none", "self", "rules", "optimiser", "optimum"]


def sqlite_cfg(tmp_path):
    return {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "data" / "gdpo.db")}}


async def replay_of(tmp_path, first, history_days, test_days, season, config=None):
    async with open_storage(sqlite_cfg(tmp_path)) as storage:
        await synthetic_history.store(storage, first, history_days + test_days, season, every_min=15)
        start, end = local_day_range(first + _dt.timedelta(days=history_days),
                                     first + _dt.timedelta(days=history_days + test_days - 1), TZ)
        return await load_replay(storage, start, end, config or defaults(), None, None)


def check_balance(result):
    for name, s in result["strategies"].items():
        lhs = s["load_kwh"] - s["pv_kwh"] + s["battery_charge_kwh"] - s["battery_discharge_kwh"]
        assert lhs == pytest.approx(s["import_kwh"] - s["export_kwh"], abs=1e-3), name
        assert sum(d["net_cost_pln"] for d in s["days"]) == pytest.approx(s["net_cost_pln"], abs=1e-2), name


@pytest.mark.parametrize("season, first", [
    ("winter", _dt.date(2026, 12, 1)),
    ("summer", _dt.date(2026, 6, 10)),   # PV surplus and negative midday prices
    ("flat", _dt.date(2026, 2, 2)),      # one market price all day: only the tariff zones differ
    ("winter", _dt.date(2026, 3, 22)),   # the tested days hold the 92-quarter spring DST day
    ("summer", _dt.date(2026, 10, 18)),  # ... and the 100-quarter autumn one
])
async def test_scenarios_optimiser_beats_rules_and_rules_beat_self(tmp_path, season, first):
    replay = await replay_of(tmp_path, first, 7, 3, season)
    result = run_backtest(replay, ALL)
    check_balance(result)
    net = {k: v["net_cost_pln"] for k, v in result["strategies"].items()}
    assert net["optimum"] <= min(net.values()) + 1e-6, net
    assert net["optimiser"] <= net["rules"] + 1e-6, net
    assert net["rules"] <= net["self"] + 1e-6, net
    assert net["self"] <= net["none"] + 1e-6, net
    assert not result["gaps"]
    assert all(s["load_kwh"] == result["strategies"]["none"]["load_kwh"] for s in result["strategies"].values())
    quarters = {len(q) for q in [replay.in_range()]}
    assert quarters == {3 * 96 + (-4 if first.month == 3 else 4 if first.month == 10 else 0)}


async def test_gaps_are_named_and_skipped_by_every_strategy(tmp_path):
    replay = await replay_of(tmp_path, _dt.date(2026, 12, 1), 7, 2, "winter")
    hole = replay.in_range()[40]
    replay.quarters = [q for q in replay.quarters if q.start != hole.start] + \
        [type(hole)(hole.start, None, None, None, hole.price, hole.known_at)]
    replay.quarters.sort(key=lambda q: q.start)
    result = run_backtest(replay, ["none", "self"])
    assert result["gaps"] == [{"period_start": hole.start.isoformat(), "why": "no readings"}]
    assert result["strategies"]["none"]["load_kwh"] == result["strategies"]["self"]["load_kwh"]


async def test_a_decision_sees_only_prices_published_before_it(tmp_path):
    replay = await replay_of(tmp_path, _dt.date(2026, 12, 1), 7, 2, "winter")
    first = replay.in_range()[0].start  # local midnight of the first tested day
    seen = _known_prices(replay.quarters, first + _dt.timedelta(hours=10))
    local_days = {p.period_start.astimezone(synthetic_history.zone(TZ)).date() for p in seen}
    assert max(local_days) == first.astimezone(synthetic_history.zone(TZ)).date()
    later = _known_prices(replay.quarters, first + _dt.timedelta(hours=15))
    assert len(later) > len(seen)  # tomorrow is known from the day before (published 14:00 local)


async def test_no_prices_is_a_clear_error(tmp_path):
    async with open_storage(sqlite_cfg(tmp_path)) as storage:
        energy, _ = synthetic_history.build(_dt.date(2026, 12, 1), 2, "winter")
        await storage.write("energy_data", energy)
        start, end = local_day_range(_dt.date(2026, 12, 1), _dt.date(2026, 12, 2), TZ)
        replay = await load_replay(storage, start, end, defaults(), None, None)
    with pytest.raises(BacktestError, match="no prices stored"):
        run_backtest(replay, ["none"])


def test_cli_json_and_table_and_exit_2(tmp_path):
    import asyncio

    async def fill():
        async with open_storage(sqlite_cfg(tmp_path)) as storage:
            await synthetic_history.store(storage, _dt.date(2026, 12, 1), 9, "winter", every_min=15)

    asyncio.run(fill())
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(yaml.safe_dump({"data_storage": sqlite_cfg(tmp_path)}))
    runner = CliRunner()
    out = runner.invoke(cli, ["backtest", "--from", "2026-12-08", "--to", "2026-12-09", "--json",
                              "--strategy", "none,self,rules,optimiser", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert set(doc) >= {"from", "to", "strategies"}
    keys = {"load_kwh", "pv_kwh", "import_kwh", "export_kwh", "battery_charge_kwh", "battery_discharge_kwh",
            "grid_charge_kwh", "grid_charge_cost_pln", "import_cost_pln", "export_revenue_pln", "net_cost_pln",
            "cycles", "days"}
    assert all(keys <= set(s) for s in doc["strategies"].values())
    assert len(doc["strategies"]["rules"]["days"]) == 2
    table = runner.invoke(cli, ["backtest", "--from", "2026-12-08", "--to", "2026-12-08", "--config", str(cfg)])
    assert table.exit_code == 0 and "optimiser" in table.output and "net PLN" in table.output
    empty = runner.invoke(cli, ["backtest", "--from", "2027-01-10", "--to", "2027-01-11", "--config", str(cfg)])
    assert empty.exit_code == 2 and "no prices stored" in empty.output
