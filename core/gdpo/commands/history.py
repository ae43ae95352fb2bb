"""``gdpo history decisions|state|energy|sessions|daily``: stored records of a period."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json

import click

WHAT = {
    "decisions": ("coordinator_decisions", ("ts", "action", "reason", "battery_soc_pct", "price_pln_kwh")),
    "state": ("system_state", ("ts", "state", "uptime_s", "last_error", "metrics")),
    "energy": ("energy_data", ("ts", "battery_soc_pct", "pv_power_w", "house_consumption_w", "grid_power_w",
                               "battery_power_w", "price_pln_kwh")),
    "sessions": ("charging_sessions", ("session_id", "status", "start_ts", "end_ts", "target_soc_pct",
                                       "actual_energy_kwh", "cost_pln", "avg_price_pln_kwh", "origin")),
    "selling": ("battery_selling_sessions", ("session_id", "status", "start_ts", "end_ts", "energy_sold_kwh",
                                             "revenue_pln")),
    "daily": ("daily_stats", ("date", "total_consumption_kwh", "total_pv_kwh", "total_grid_import_kwh",
                              "total_grid_export_kwh", "avg_price_pln_kwh", "grid_charge_kwh", "grid_charge_cost_pln",
                              "selling_revenue_pln")),
}


def parse_when(text: str | None, tz: str, default: _dt.datetime | None) -> _dt.datetime | None:
    """A bound: ISO date or date-time (local time when no offset), 'now', or None for ``default``."""
    if text is None:
        return default
    if text == "now":
        return _dt.datetime.now(_dt.timezone.utc)
    from gdpo.storage.aggregate import local_midnight_utc, zone

    try:
        if len(text) == 10:
            return local_midnight_utc(_dt.date.fromisoformat(text), tz)
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use YYYY-MM-DD or an ISO date-time") from None
    return (t if t.tzinfo else t.replace(tzinfo=zone(tz))).astimezone(_dt.timezone.utc)


def _cell(value, tz) -> str:
    from gdpo.storage.aggregate import zone

    if value is None:
        return "-"
    if isinstance(value, _dt.datetime):
        return value.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"
    if isinstance(value, dict):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def _jsonable(record) -> dict:
    return {k: (v.isoformat() if isinstance(v, (_dt.datetime, _dt.date)) else v) for k, v in record.to_dict().items()}


async def read_history(cfg, what: str, start: _dt.datetime | None, end: _dt.datetime | None, limit: int | None):
    """The records of ``what`` in ``[start, end)``; a bound left None is that of the latest
    run (its first and last heartbeat), or the last 24 h when nothing ran."""
    from gdpo.storage import open_storage

    kind = WHAT[what][0]
    async with open_storage(cfg, background=False, create=False) as storage:
        if start is None or end is None:
            start, end = await _run_bounds(storage, start, end)
        if kind == "daily_stats":
            from gdpo.storage.aggregate import zone

            return await storage.read(kind, start.astimezone(zone(_tz(cfg))).date(),
                                      end.astimezone(zone(_tz(cfg))).date(), limit=limit)
        return await storage.read(kind, start, end, limit=limit)


async def _run_bounds(storage, start, end):
    from gdpo.coordinator.simulation import last_run_window

    now = _dt.datetime.now(_dt.timezone.utc)
    window = await last_run_window(storage)
    first, last = window if window else (now - _dt.timedelta(days=1), now)
    return (start or first), (end or last + _dt.timedelta(seconds=1))


def _tz(cfg) -> str:
    return (cfg.section("coordinator") or {}).get("timezone", "Europe/Warsaw")


@click.command("history")
@click.argument("what", type=click.Choice(list(WHAT)))
@click.option("--from", "start", help="Start (YYYY-MM-DD or ISO date-time, local time); default 24 h ago "
              "(with --simulated: the start of the latest simulated run).")
@click.option("--to", "end", help="End, exclusive (same forms, or 'now'); default now (with --simulated: the end "
              "of the latest simulated run).")
@click.option("--limit", type=int, help="At most this many records.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of records.")
@click.option("--simulated", is_flag=True, help="Read the database of `gdpo run --simulate`.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file.")
def history_command(what, start, end, limit, as_json, simulated, config_path) -> None:
    """Show stored decisions, states, energy readings, charging (or selling) sessions or daily stats."""
    from gdpo.config import load_config
    from gdpo.coordinator.simulation import require_database, simulated_config

    cfg = load_config(config_path)
    if simulated:
        cfg = simulated_config(cfg)
        require_database(cfg)
    tz = _tz(cfg)
    now = _dt.datetime.now(_dt.timezone.utc)
    s = parse_when(start, tz, None if simulated else now - _dt.timedelta(days=1))
    e = parse_when(end, tz, None if simulated else now + _dt.timedelta(seconds=1))
    if s is not None and e is not None and e <= s:
        raise click.BadParameter("--to must be after --from")
    records = asyncio.run(read_history(cfg, what, s, e, limit))
    if as_json:
        click.echo(json.dumps([_jsonable(r) for r in records], indent=2, default=str))
        return
    columns = WHAT[what][1]
    rows = [[_cell(getattr(r, c), tz) for c in columns] for r in records]
    widths = [max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    click.echo(f"({len(rows)} {WHAT[what][0]} records)")
    if not rows and not simulated:
        from gdpo.coordinator.simulation import simulated_path

        if simulated_path().exists():
            click.echo(f"(a simulated run's records are in {simulated_path()}: add --simulated)", err=True)


def register(cli: click.Group) -> None:
    """Add ``gdpo history`` to the CLI."""
    cli.add_command(history_command)
