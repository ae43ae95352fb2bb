"""``gdpo plan``: the optimiser's plan stored with the latest decision (or the one at a time)."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import textwrap

import click

LOOK_BACK = _dt.timedelta(days=2)  # the newest decision with a plan is searched this far back
SEARCH_LIMIT = 1000


async def find_planned_decision(cfg, at: _dt.datetime | None):
    """The newest ``coordinator_decisions`` record with a plan at or before ``at`` (default:
    the latest decision), searched ``LOOK_BACK`` before it; None when there is none."""
    from gdpo.coordinator.plan_view import plan_of
    from gdpo.storage import open_storage

    async with open_storage(cfg) as storage:
        if at is None:
            latest = await storage.latest("coordinator_decisions")
            if latest is None:
                return None
            at = latest.ts
        end = at + _dt.timedelta(microseconds=1)
        for record in await storage.read("coordinator_decisions", at - LOOK_BACK, end, limit=SEARCH_LIMIT,
                                         descending=True):
            if plan_of(record) is not None:
                return record
    return None


@click.command("plan")
@click.option("--at", "at_text", help="The decision in force at this time (ISO date-time, local time; or 'now'); "
              "default: the latest decision.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision and its plan as JSON.")
@click.option("--simulated", is_flag=True, help="Read the database of `gdpo run --simulate`.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
def plan_command(at_text, as_json, simulated, config_path) -> None:
    """Show the plan of the latest decision: per quarter the action, battery power (kW, + charging),
    expected SOC and price, as a table and a chart. Exit 1 when no decision has a plan (the
    rules strategy stores none)."""
    from gdpo.commands.history import parse_when
    from gdpo.config import load_config
    from gdpo.coordinator.plan_view import plan_chart, plan_of, plan_table
    from gdpo.coordinator.simulation import database_label, require_database, simulated_config

    cfg = load_config(config_path)
    if simulated:
        cfg = simulated_config(cfg)
        require_database(cfg)
    tz = (cfg.section("coordinator") or {}).get("timezone", "Europe/Warsaw")
    at = parse_when(at_text, tz, None)
    record = asyncio.run(find_planned_decision(cfg, at))
    if record is None:
        when = f" at or before {at.isoformat()}" if at else ""
        click.echo(f"gdpo plan: no decision with a plan{when} in {database_label(cfg)} (the optimiser strategy "
                   "stores one with each decision; the rules strategy and a fallback to the rules store none)",
                   err=True)
        raise SystemExit(1)
    rows = plan_of(record)
    if as_json:
        click.echo(json.dumps({"decision_id": record.decision_id, "ts": record.ts.isoformat(),
                               "action": record.action, "reason": record.reason, "plan": rows}, indent=2))
        return
    from gdpo.storage.aggregate import zone

    click.echo(textwrap.fill(f"decision {record.ts.astimezone(zone(tz)):%Y-%m-%d %H:%M} {record.action}: "
                             f"{record.reason}", width=80, subsequent_indent="  "))
    click.echo(plan_table(rows, tz))
    click.echo("")
    click.echo(plan_chart(rows, tz))


def register(cli: click.Group) -> None:
    """Add ``gdpo plan`` to the CLI."""
    cli.add_command(plan_command)
