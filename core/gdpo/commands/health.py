"""``gdpo health``: is storage healthy? Exit 0 healthy, 1 unhealthy (the reason printed)."""

from __future__ import annotations

import asyncio
import json

import click


async def _check(config_path: str | None) -> dict:
    from gdpo.config import load_config, mask_secrets
    from gdpo.storage.errors import StorageMissingError
    from gdpo.storage.facade import open_storage
    from gdpo.storage.health import health_report

    cfg = load_config(config_path)
    try:
        async with open_storage(cfg, background=False, create=False) as storage:
            return await health_report(storage)
    except StorageMissingError:
        raise  # no database at all is a config mistake (exit 2), not an unhealthy one
    except Exception as exc:  # cannot even open: that is the answer
        return {"ok": False, "problems": [mask_secrets(f"cannot open storage: {exc}")], "backends": [],
                "writers": [], "spools": {}}


@click.command("health")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: GDPO_CONFIG or config/master_coordinator_config.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def health_command(config_path: str | None, as_json: bool) -> None:
    """Check every storage backend (a real round trip), the age of the last successful
    write of the running coordinator, and the outage spools."""
    report = asyncio.run(_check(config_path))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        for b in report["backends"]:
            ms = f" {b['latency_ms']:.1f} ms" if b.get("latency_ms") is not None else ""
            click.echo(f"backend {b['backend']}: {'ok' if b['ok'] else 'FAILED'}{ms} {b.get('detail') or ''}".rstrip())
        for w in report["writers"]:
            if w.get("alive"):
                click.echo(f"writer pid {w.get('pid')}: last successful write {w.get('last_write_age_s')} s ago")
        for name, sp in report["spools"].items():
            if sp["bytes"]:
                click.echo(f"spool {name}: {sp['bytes']} bytes in {sp['segments']} segments (replaying)")
        if report["ok"]:
            click.echo("healthy")
    if not report["ok"]:
        for p in report["problems"]:
            click.echo(f"UNHEALTHY: {p}", err=True)
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    """Add ``gdpo health`` to the CLI."""
    cli.add_command(health_command)
