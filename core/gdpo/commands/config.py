"""``gdpo config check``: validate the configuration and show where each value came from."""

from __future__ import annotations

import json

import click


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the effective config as JSON.")
def check_command(path: str | None, as_json: bool) -> None:
    """Validate PATH (default: GDPO_CONFIG or config/master_coordinator_config.yaml) and print
    the effective configuration, secrets masked, with each value's source."""
    from gdpo.config import load_config

    cfg = load_config(path)
    if as_json:
        click.echo(json.dumps({"path": str(cfg.path) if cfg.path else None, "config": cfg.masked(),
                               "sources": dict(cfg.sources)}, indent=2, default=str))
        return
    click.echo(f"# config file: {cfg.path or '(none: defaults and environment only)'}")
    rows = list(cfg.items())
    width = max((len(k) for k, _, _ in rows), default=10)
    for key, value, source in rows:
        click.echo(f"{key:<{width}}  {json.dumps(value, default=str)}  [{source}]")
    click.echo("OK: configuration is valid")


def register(cli: click.Group) -> None:
    """Add ``gdpo config`` to the CLI."""
    cli.add_command(config_group)
