"""``gdpo backtest``: replay stored readings and prices through each strategy and compare the cost."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json

import click

COLUMNS = (("load_kwh", "load kWh"), ("pv_kwh", "PV kWh"), ("import_kwh", "import kWh"),
           ("export_kwh", "export kWh"), ("grid_charge_kwh", "grid chg kWh"), ("import_cost_pln", "import PLN"),
           ("export_revenue_pln", "export PLN"), ("net_cost_pln", "net PLN"), ("cycles", "cycles"))


async def _backtest(cfg, first: _dt.date, last: _dt.date, strategies, simulated: bool = False):
    from gdpo.coordinator.backtest import local_day_range, run_backtest
    from gdpo.coordinator.backtest_data import load_replay
    from gdpo.coordinator.settings import defaults
    from gdpo.storage import open_storage

    config = {name: cfg.section(name) or defaults()[name] for name in defaults()}
    start, end = local_day_range(first, last, config["coordinator"]["timezone"])
    async with open_storage(cfg, background=False, create=False) as storage:
        replay = await load_replay(storage, start, end, config, cfg.section("tariffs"), cfg.section("prices"),
                                   include_simulated=simulated)
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


async def _last_run_days(cfg) -> tuple[_dt.date, _dt.date] | None:
    """The first and last local day of the latest run in the database of ``cfg``."""
    from gdpo.coordinator.simulation import last_run_window
    from gdpo.storage import open_storage
    from gdpo.storage.aggregate import zone

    async with open_storage(cfg) as storage:
        window = await last_run_window(storage)
    if window is None:
        return None
    tz = zone((cfg.section("coordinator") or {}).get("timezone", "Europe/Warsaw"))
    return window[0].astimezone(tz).date(), window[1].astimezone(tz).date()


def _days(cfg, first: str | None, last: str | None, simulated: bool) -> tuple[_dt.date, _dt.date]:
    """The local days to replay: --from/--to, or (with --simulated) those of the latest run."""
    if (first is None or last is None) and not simulated:
        raise click.UsageError("--from and --to are required (or --simulated: the days of the latest simulated run)")
    ran = asyncio.run(_last_run_days(cfg)) if first is None or last is None else None
    if (first is None or last is None) and ran is None:
        raise click.ClickException("the simulated database holds no run: give --from and --to")
    try:
        return (_dt.date.fromisoformat(first) if first else ran[0]), (_dt.date.fromisoformat(last) if last else ran[1])
    except ValueError as exc:
        raise click.BadParameter(f"use YYYY-MM-DD ({exc})") from None


@click.command("backtest")
@click.option("--from", "first", help="First local day (YYYY-MM-DD); with --simulated, default: the latest run's.")
@click.option("--to", "last", help="Last local day, inclusive (YYYY-MM-DD); with --simulated, default: the latest run's.")
@click.option("--strategy", "strategies", default="none,self,rules,optimiser,optimum", show_default=True,
              help="Comma-separated: none, self, rules, optimiser, optimum (perfect foresight).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--simulated", is_flag=True, help="Replay the database of `gdpo run --simulate`.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
def backtest_command(first, last, strategies, as_json, simulated, config_path) -> None:
    """Replay stored energy_data and price_forecasts through each strategy; cost in PLN. The records
    of simulated runs and stored sample prices are replayed only with --simulated."""
    from gdpo.config import load_config
    from gdpo.coordinator.backtest import BacktestError
    from gdpo.coordinator.optimiser import quiet_solver_banner
    from gdpo.coordinator.simulation import require_database, simulated_config

    cfg = load_config(config_path)
    if simulated:
        cfg = simulated_config(cfg)
        require_database(cfg)
    first_day, last_day = _days(cfg, first, last, simulated)
    quiet_solver_banner()
    try:
        result = asyncio.run(_backtest(cfg, first_day, last_day, [s.strip() for s in strategies.split(",") if s.strip()],
                                       simulated))
    except BacktestError as exc:
        click.echo(f"gdpo backtest: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(json.dumps(result, indent=2) if as_json else format_table(result))


def register(cli: click.Group) -> None:
    """Add ``gdpo backtest`` to the CLI."""
    cli.add_command(backtest_command)
