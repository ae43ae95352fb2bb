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
    for line in storage_locations(cfg):
        click.echo(line)
    click.echo("OK: configuration is valid")


def storage_locations(cfg) -> list[str]:
    """Lines saying where the data goes: the SQLite file (and why there, when by default)."""
    from gdpo.storage.locations import default_data_dir

    ds = cfg.data_storage
    uses_sqlite = ds["backend"] == "sqlite" or (ds["backend"] == "hybrid" and "sqlite" in ds["hybrid"].values())
    if not uses_sqlite:
        return []
    path = ds["sqlite"]["path"]
    source = cfg.sources.get("data_storage.sqlite.path", "default")
    why = f"default: {default_data_dir()[1]}" if source == "default" else source
    return [f"# database: {path} ({why}; set data_storage.sqlite.path or DATABASE_PATH to change it)"]


@config_group.command("init")
@click.argument("path", required=False, default="config/master_coordinator_config.yaml",
                type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init_command(path: str, force: bool) -> None:
    """Write a starting configuration to PATH (default: config/master_coordinator_config.yaml):
    every section and key with its help, choices and default, the few values to choose set,
    the rest commented out. Refuses to replace a file unless --force."""
    import os
    from pathlib import Path

    from gdpo.config import ConfigError, load_config
    from gdpo.config_template import render

    target = Path(path)
    if target.exists() and not force:
        raise ConfigError(f"{target} exists already; give another PATH, or --force to replace it")
    text = render(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold secrets later
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    load_config(partial, env={})  # what it writes is valid, or nothing is written
    os.replace(partial, target)
    click.echo(f"wrote {target}: set inverter.host, tariffs.tariff and battery.capacity_kwh, then "
               f"`gdpo config check {target}`")


def register(cli: click.Group) -> None:
    """Add ``gdpo config`` to the CLI."""
    cli.add_command(config_group)
