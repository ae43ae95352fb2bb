"""``gdpo backends``: list the storage backends found through the ``gdpo.storage`` entry points."""

from __future__ import annotations

import json

import click


@click.command("backends")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
def backends_command(as_json: bool) -> None:
    """List storage backends: name, package, version, availability, record kinds."""
    from gdpo.storage.plugins import list_backends

    infos = list_backends()
    if as_json:
        click.echo(json.dumps([b.as_json() for b in infos], indent=2))
        return
    if not infos:
        click.echo("No storage backends found (is GDPO_LOAD_PLUGINS set to an empty list?)")
        return
    for b in infos:
        origin = f"{b.package} {b.version}" if b.package else b.module
        state = "available" if b.available else f"UNAVAILABLE: {b.reason}"
        click.echo(f"{b.name}  ({origin})  {state}")
        if b.description:
            click.echo(f"    {b.description}")
        if b.kinds:
            click.echo(f"    kinds: {', '.join(b.kinds)}")
        if b.fix:
            click.echo(f"    fix: {b.fix}")


def register(cli: click.Group) -> None:
    """Add ``gdpo backends`` to the CLI."""
    cli.add_command(backends_command)
