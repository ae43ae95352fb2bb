"""``gdpo backtest``: replay stored readings and prices through each strategy and compare the cost."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json

import click

COLUMNS = (("load_kwh", "load kWh"), ("pv_kwh", "PV kWh"), ("import_kwh", "import kWh"),
           ("export_kwh", "export kWh"), ("grid_charge_kwh", "grid chg kWh"), ("import_cost_pln", "import PLN"),
           ("export_revenue_pln", "export PLN"), ("net_cost_pln", "net PLN"), ("cycles", "cycles"))


async def _backtest(cfg, first: _dt.date, last: _dt.date, strategies):
    from gdpo.coordinator.backtest import local_day_range, run_backtest
    from gdpo.coordinator.backtest_data import load_replay
    from gdpo.coordinator.settings import defaults
    from gdpo.storage import open_storage

    config = {name: cfg.section(name) or defaults()[name] for name in defaults()}
    start, end = local_day_range(first, last, config["coordinator"]["timezone"])
    async with open_storage(cfg, background=False, create=False) as storage:
        replay = await load_replay(storage, start, end, config, cfg.section("tariffs"), cfg.section("prices"))
    return await asyncio.to_thread(run_backtest, replay, strategies)


def format_table(result: dict) -> str:
    """The result as a text table, one row per strategy."""
    head = ["strategy"] + [c[1] for c in COLUMNS]
    rows = [[name] + [f"{s[k]:.2f}" if k != "cycles" else f"{s[k]:.2f}" for k, _ in COLUMNS]
            for name, s in result["strategies"].items()]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = [f"backtest {result['from']} .. {result['to']}"]
    lines += ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
              for r in [head] + rows]
    if result["gaps"]:
        lines.append(f"{len(result['gaps'])} quarter(s) skipped by every strategy (first: "
                     f"{result['gaps'][0]['period_start']}, {result['gaps'][0]['why']})")
    return "\n".join(lines)


@click.command("backtest")
@click.option("--from", "first", required=True, help="First local day (YYYY-MM-DD).")
@click.option("--to", "last", required=True, help="Last local day, inclusive (YYYY-MM-DD).")
@click.option("--strategy", "strategies", default="none,self,rules,optimiser,optimum", show_default=True,
              help="Comma-separated: none, self, rules, optimiser, optimum (perfect foresight).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
def backtest_command(first, last, strategies, as_json, config_path) -> None:
    """Replay stored energy_data and price_forecasts through each strategy; cost in PLN."""
    from gdpo.config import load_config
    from gdpo.coordinator.backtest import BacktestError
    from gdpo.coordinator.optimiser import quiet_solver_banner

    try:
        first_day, last_day = _dt.date.fromisoformat(first), _dt.date.fromisoformat(last)
    except ValueError as exc:
        raise click.BadParameter(f"use YYYY-MM-DD ({exc})") from None
    cfg = load_config(config_path)
    quiet_solver_banner()
    try:
        result = asyncio.run(_backtest(cfg, first_day, last_day, [s.strip() for s in strategies.split(",") if s.strip()]))
    except BacktestError as exc:
        click.echo(f"gdpo backtest: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))


def register(cli: click.Group) -> None:
    """Add ``gdpo backtest`` to the CLI."""
    cli.add_command(backtest_command)
