"""``gdpo db``: database housekeeping on the configured storage.

``init`` and ``status`` work with every backend. ``check``, ``backup`` and ``recover`` call
optional backend methods of those names (``check(full)``, ``backup(dest)``,
``recover(src, dest)``), so a backend offers them by defining them; where the configured
backend has none, the command says so. ``maintain`` runs each backend's ``maintenance``.
Other modules add subcommands to this group through ``cli.commands["db"]``.
Every subcommand is a short command: it opens storage without background jobs (no
retention timer, status file, signal handlers or spool replay; a spool left by the
coordinator is for the coordinator to replay).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Mapping

import click

config_option = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             help="Config file (default: GDPO_CONFIG, then config/master_coordinator_config.yaml).")
backend_option = click.option("--backend", "backend_name", default=None,
                              help="Which configured backend to use when several offer this operation.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group("db")
def db_group() -> None:
    """Set up, inspect, check, back up, recover and maintain the database."""


def _run(coro):
    return asyncio.run(coro)


def _echo_mapping(data: Mapping[str, Any], indent: int = 0) -> None:
    pad = "  " * indent
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            click.echo(f"{pad}{key}:")
            _echo_mapping(value, indent + 1)
        elif isinstance(value, (list, tuple)) and value and not all(isinstance(v, (int, float)) for v in value):
            click.echo(f"{pad}{key}:")
            for item in value:
                click.echo(f"{pad}  - {item}")
        else:
            click.echo(f"{pad}{key}: {value if not isinstance(value, Mapping) else '{}'}")


def _emit(data: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        _echo_mapping(data)


#: What to do instead, for a backend without the operation.
ALTERNATIVES = {
    "backup": "; copy its records with `gdpo migrate --from config --to sqlite:/path/copy.db` (a SQLite file, "
              "restored the same way back), or, for json_legacy, copy its directory while gdpo is stopped",
    "check": "; `gdpo migrate --from config --to sqlite:/tmp/check.db --dry-run` reads and validates every record",
    "recover": "; `gdpo migrate --from config --to sqlite:/path/copy.db` copies every record it can read",
}


def offering(storage, operation: str, backend_name: str | None = None) -> list[tuple[str, Any]]:
    """The configured backends that have the optional method ``operation`` (optionally one by name).

    Raises a ClickException naming the backends when none of them supports it.
    """
    names = list(storage.backends)
    if backend_name is not None:
        if backend_name not in storage.backends:
            raise click.ClickException(f"backend {backend_name!r} is not configured (configured: {', '.join(names)})")
        names = [backend_name]
    found = [(n, storage.backends[n]) for n in names if callable(getattr(storage.backends[n], operation, None))]
    if not found:
        raise click.ClickException(f"backend {' / '.join(repr(n) for n in names)} does not support `gdpo db "
                                   f"{operation}`{ALTERNATIVES.get(operation, '')}")
    return found


def _one(storage, operation: str, backend_name: str | None) -> tuple[str, Any]:
    found = offering(storage, operation, backend_name)
    if len(found) > 1:
        raise click.ClickException(f"several backends support {operation} ({', '.join(n for n, _ in found)}); "
                                   f"choose one with --backend")
    return found[0]


@db_group.command("init")
@config_option
def init_command(config_path: str | None) -> None:
    """Create the database (or bring its schema up to date) and report it ready."""
    from gdpo.storage import open_storage

    async def go():
        async with open_storage(config_path, background=False) as storage:
            return await storage.health()

    for h in _run(go()):
        click.echo(f"{h.backend}: {'ready' if h.ok else 'NOT READY'} ({h.detail})")
        if not h.ok:
            raise SystemExit(1)


@db_group.command("status")
@config_option
@json_option
def status_command(config_path: str | None, as_json: bool) -> None:
    """Print the routing and each backend's statistics (rows per kind, sizes, versions)."""
    from gdpo.storage import open_storage

    async def go():
        async with open_storage(config_path, background=False, create=False) as storage:
            return await storage.stats()

    _emit(_run(go()), as_json)


@db_group.command("check")
@config_option
@backend_option
@json_option
@click.option("--full", is_flag=True, help="Run the full integrity check (slower) instead of the quick one.")
def check_command(config_path: str | None, backend_name: str | None, as_json: bool, full: bool) -> None:
    """Check the database for damage (SQLite: quick_check, or integrity_check with --full).

    Works on a database that refuses to open; exits 1 when a problem is found."""
    from gdpo.storage import build_storage

    storage = build_storage(config_path)
    reports = {}
    for name, backend in offering(storage, "check", backend_name):
        reports[name] = _run(backend.check(full=full))
    _emit(reports, as_json)
    bad = [n for n, r in reports.items() if not r.get("ok")]
    if bad:
        click.echo(f"Error: {', '.join(bad)}: the check found problems (see above)", err=True)
        raise SystemExit(1)
    if not as_json:
        click.echo("OK: no problems found")


@db_group.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False))
@config_option
@backend_option
@json_option
def backup_command(dest: str, config_path: str | None, backend_name: str | None, as_json: bool) -> None:
    """Write a consistent copy of the live database to DEST (a new file), while writes go on.

    SQLite: an online copy (SQLite's backup API). TimescaleDB: a pg_dump of its database
    (custom format, for pg_restore). When several configured backends can (hybrid) and no
    --backend is given, each writes its own file beside DEST: DEST's name with ``-<backend>``
    before the suffix (``.db`` for SQLite, ``.dump`` for a pg_dump)."""
    from gdpo.storage import open_storage

    async def go():
        async with open_storage(config_path, background=False, create=False) as storage:
            found = offering(storage, "backup", backend_name)
            targets = {name: (dest if len(found) == 1 else backup_path(dest, name, backend)) for name, backend in found}
            return {name: await backend.backup(targets[name]) for name, backend in found}

    result = _run(go())
    _emit(result, as_json)
    if not as_json:
        for name, done in result.items():
            click.echo(f"OK: {name} backup written to {done.get('path', dest)}")


def backup_path(dest: str, name: str, backend: Any) -> str:
    """Where backend ``name`` writes its part of a several-backend backup: ``-<name>`` before
    the suffix, which is the backend's own (``backup_suffix``: ``.dump`` for a pg_dump)."""
    from pathlib import Path

    path = Path(dest)
    suffix = getattr(backend, "backup_suffix", None) or path.suffix
    return str(path.with_name(f"{path.stem}-{name}{suffix}"))


@db_group.command("recover")
@click.argument("src", type=click.Path(dir_okay=False))
@click.argument("dest", type=click.Path(dir_okay=False))
@config_option
@backend_option
@json_option
def recover_command(src: str, dest: str, config_path: str | None, backend_name: str | None, as_json: bool) -> None:
    """Copy every readable row of a damaged database SRC into a new database DEST.

    SRC is only read (from a copy); the number of rows saved per kind, and of hourly and
    daily rollups (what retention left of deleted raw rows), is printed."""
    from gdpo.storage import build_storage

    storage = build_storage(config_path)
    name, backend = _one(storage, "recover", backend_name)
    report = _run(backend.recover(src, dest))
    _emit(report, as_json)
    if not as_json:
        state = "complete" if report.get("complete") else "PARTIAL (see problems above)"
        rollups = sum((report.get("rollups") or {}).values())
        click.echo(f"{report.get('total', 0)} rows saved to {dest} ({rollups} of them rollups); recovery {state}")


@db_group.command("maintain")
@config_option
@json_option
@click.option("--vacuum", is_flag=True, help="Also VACUUM (rewrites the file; starts only when no write is queued).")
def maintain_command(config_path: str | None, as_json: bool, vacuum: bool) -> None:
    """Refresh query statistics, checkpoint, and optionally VACUUM each backend."""
    from gdpo.storage import open_storage

    async def go():
        async with open_storage(config_path, background=False, create=False) as storage:
            return await storage.maintenance(vacuum=vacuum)

    _emit(_run(go()), as_json)


def register(cli: click.Group) -> None:
    """Add ``gdpo db`` to the CLI."""
    cli.add_command(db_group)
