"""``gdpo db retention [--dry-run]`` and the storage service part of ``gdpo db status``.

The ``db`` group itself lives in ``gdpo.commands.db``; this module adds ``retention`` to
it (creating the group only when it is absent) and extends ``db status`` with the routing
and the counters of running processes (read from their status files).
"""

from __future__ import annotations

import asyncio
import json

import click

CONFIG_OPTION = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             help="Config file (default: GDPO_CONFIG or config/master_coordinator_config.yaml).")


async def _retention(config_path: str | None, dry_run: bool) -> dict:
    from gdpo.config import load_config
    from gdpo.storage.facade import open_storage
    from gdpo.storage.retention import run_retention

    async with open_storage(load_config(config_path), background=False) as storage:
        return await run_retention(storage, dry_run=dry_run)


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@CONFIG_OPTION
def retention_command(dry_run: bool, as_json: bool, config_path: str | None) -> None:
    """Delete raw time series older than retention.days (hourly rollups of energy data are
    kept first); sessions, daily stats and (by default) decisions are kept."""
    report = asyncio.run(_retention(config_path, dry_run))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    for kind, entry in report["kinds"].items():
        extra = f", {entry['rollup_hours']} hourly rollups kept" if entry.get("rollup_hours") else ""
        skipped = f" (skipped: {entry['skipped']})" if entry.get("skipped") else ""
        click.echo(f"{kind}: {verb} {entry['records']} records older than {entry['cutoff']} "
                   f"({entry['days']} days){extra}{skipped}")


def service_status_lines(config_path: str | None) -> list[str]:
    """Routing and the counters of running processes, as lines for ``gdpo db status``."""
    from gdpo.config import load_config
    from gdpo.storage.facade import routes_for
    from gdpo.storage.quarantine import quarantine_count, quarantine_path
    from gdpo.storage.status import read_status_files, resolve_data_dir, resolve_spool_dir

    ds = load_config(config_path).data_storage
    lines = ["routing: " + ", ".join(f"{k} -> {b}" for k, b in routes_for(ds).items())]
    data_dir = resolve_data_dir(ds)
    writers = read_status_files(data_dir)
    if not writers:
        lines.append(f"running processes: none publish a status file in {data_dir}/status")
    for w in writers:
        state = "running" if w["alive"] else "STALE (process gone)"
        counters = ", ".join(f"{k} {v}" for k, v in (w.get("counters") or {}).items())
        lines.append(f"process {w.get('pid')} ({state}, updated {w.get('updated_at')}): {counters}")
        for name, b in (w.get("backends") or {}).items():
            spool = b.get("spool") or {}
            lines.append(f"  {name}: last write ok {b.get('last_write_ok_at')}, spool {spool.get('bytes', 0)} bytes"
                         f"{', waiting to replay' if b.get('pending') else ''}{_breaker_text(b.get('breaker'))}"
                         f"{', last error: ' + b['last_error'] if b.get('last_error') else ''}")
    spool_dir = resolve_spool_dir(ds, data_dir)
    if spool_dir is not None:
        for name in dict.fromkeys(routes_for(ds).values()):
            count = quarantine_count(spool_dir / name)
            if count:
                lines.append(f"quarantine of backend {name}: {count} batches refused (not an outage) in "
                             f"{quarantine_path(spool_dir / name)}; see docs/OPERATIONS.md")
    return lines


def _breaker_text(breaker) -> str:
    """The breaker part of a backend's status line."""
    if not breaker:
        return ""
    if breaker.get("state") == "closed":
        return ", breaker closed"
    return (f", breaker {breaker.get('state')} (down since {breaker.get('down_since')}, "
            f"next try in {breaker.get('next_try_in_s')} s)")


@click.command("status")
@CONFIG_OPTION
def service_status_command(config_path: str | None) -> None:
    """Show the storage routing and the counters of running processes."""
    for line in service_status_lines(config_path):
        click.echo(line)


def _extend_status(group: click.Group) -> None:
    """Append the service lines to an existing ``db status`` command."""
    status = group.commands.get("status")
    if status is None:
        group.add_command(service_status_command)
        return
    if getattr(status, "_gdpo_service_status", False):
        return
    original = status.callback

    def callback(*args, **kwargs):
        result = original(*args, **kwargs)
        if not kwargs.get("as_json"):
            for line in service_status_lines(kwargs.get("config_path") or kwargs.get("config")):
                click.echo(line)
        return result

    status.callback = callback
    status._gdpo_service_status = True


def register(cli: click.Group) -> None:
    """Add ``gdpo db retention`` (and the service part of ``gdpo db status``)."""
    group = cli.commands.get("db")
    if group is None:
        @click.group("db")
        def db_group() -> None:
            """Database maintenance."""

        cli.add_command(db_group)
        group = db_group
    group.add_command(retention_command)
    _extend_status(group)
