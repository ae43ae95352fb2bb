"""``gdpo migrate`` (legacy JSON or any backend to any other) and ``gdpo export`` (to a legacy tree)."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from gdpo.migrate import DEFAULT_BATCH_SIZE

DATE = click.DateTime(formats=["%Y-%m-%d"])


def _run(opts) -> dict:
    from gdpo.config import ConfigError
    from gdpo.migrate.runner import migrate
    from gdpo.migrate.specs import typed_password_warning
    from gdpo.storage import BackendUnavailableError

    for option, text in (("--from", opts.source), ("--to", opts.target)):
        warning = typed_password_warning(option, text)
        if warning:
            click.echo(warning, err=True)

    try:
        return asyncio.run(migrate(opts))
    except BackendUnavailableError as exc:
        raise ConfigError(str(exc)) from None


def _finish(ctx: click.Context, report: dict, as_json: bool, target: str | None = None) -> None:
    from gdpo.migrate.report import format_summary, report_json

    if target is not None and report["exit_code"] in (0, 1):
        report["retention_later"] = asyncio.run(_retention_later(target))
    click.echo(report_json(report) if as_json else format_summary(report))
    note = retention_note(report.get("retention_later") or {})
    if note and not as_json:
        click.echo(note)
    ctx.exit(report["exit_code"])


async def _retention_later(target: str) -> dict[str, dict]:
    """What the target's retention will delete of what is stored there now: {kind: {records, days}}
    (nothing for a target that does not exist yet, as after a dry run, or that cannot delete)."""
    from gdpo.migrate.specs import parse_spec
    from gdpo.storage import StorageMissingError, open_storage
    from gdpo.storage.retention import run_retention

    spec = parse_spec(target)
    if not spec.exists():
        return {}
    try:
        async with open_storage(spec.config, background=False, create=False) as storage:
            counted = await run_retention(storage, dry_run=True)
    except StorageMissingError:
        return {}
    return {kind: {"records": e["records"], "days": e["days"]} for kind, e in counted["kinds"].items()
            if e.get("records")}


def retention_note(later: dict[str, dict]) -> str | None:
    """The note telling what the configured retention will remove of the migrated history, and how to keep it."""
    if not later:
        return None
    lines = ["note: the target's retention (data_storage.retention) will delete at its next daily run:"]
    for kind, e in later.items():
        kept = " (its hourly, daily and quarter-hour rollups stay)" if kind == "energy_data" else ""
        lines.append(f"  {e['records']} {kind} records older than {e['days']} days{kept}")
    first = next(iter(later))
    lines.append(f"  to keep them, set data_storage.retention.per_kind.{first}: 3650 (days) for each kind "
                 "before the coordinator runs, or `gdpo db retention --dry-run` to see it again")
    return "\n".join(lines)


def _writable_report(report: str | None) -> None:
    """Refuse a ``--report`` path that cannot be written, before any work is done."""
    import os
    from pathlib import Path

    if report is None:
        return
    parent = Path(report).expanduser().absolute().parent
    if not parent.is_dir():
        raise click.BadParameter(f"{report}: there is no directory {parent}; give a path in a directory that exists",
                                 param_hint="--report")
    if not os.access(parent, os.W_OK | os.X_OK) or (Path(report).exists() and not os.access(report, os.W_OK)):
        raise click.BadParameter(f"{report}: this user cannot write there; give a path in a directory you can "
                                 f"write (e.g. your home directory)", param_hint="--report")


def _options(source, target, dry_run, report, since, until, batch_size, archive=False):
    from gdpo.migrate.runner import MigrationOptions

    _writable_report(report)
    return MigrationOptions(source=source, target=target, dry_run=dry_run, report_path=report, archive=archive,
                            since=since.date() if since else None, until=until.date() if until else None,
                            batch_size=batch_size, progress_stream=sys.stdout)


def _shared_options(batch_default: int):
    """The options ``migrate`` and ``export`` share (report, date range, batch size, output)."""

    def decorate(f):
        """Apply the shared options to a command function."""
        for option in reversed([
            click.option("--dry-run", is_flag=True, help="Read and validate everything, write nothing, print the same report."),
            click.option("--report", "report", metavar="FILE", help="Also write the report as JSON to FILE."),
            click.option("--since", type=DATE, help="Only records from this local date (YYYY-MM-DD)."),
            click.option("--until", type=DATE, help="Only records up to this local date, inclusive."),
            click.option("--batch-size", type=click.IntRange(1, 100_000), default=batch_default, show_default=True,
                         help="Records per write transaction."),
            click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of the summary."),
        ]):
            f = option(f)
        return f

    return decorate


@click.command("migrate")
@click.option("--from", "source", metavar="SPEC", help="Source: json_legacy:DIR, sqlite:PATH, timescaledb:DSN or config.")
@click.option("--to", "target", metavar="SPEC", default="config", show_default=True, help="Target backend spec.")
@click.option("--archive", is_flag=True, help="After a validated run move the imported legacy files to out/archive/<run-id>/.")
@click.option("--restore-archive", "restore", metavar="RUN_ID", help="Move the files of an archived run back (needs --from json_legacy:DIR).")
@_shared_options(DEFAULT_BATCH_SIZE)
@click.pass_context
def migrate_command(ctx, source, target, dry_run, report, archive, restore, since, until, batch_size, as_json):
    """Copy records from SRC to DST without losing a field; idempotent, resumable, validated.

    Exit status: 0 when every recognised file was imported, 1 when some file was quarantined
    or partly imported (the summary says which), 2 for a usage or configuration error.
    """
    if restore:
        _restore(ctx, source, restore, as_json)
        return
    if not source:
        raise click.UsageError("--from SPEC is required (e.g. --from json_legacy:/opt/gdpo/out)")
    _finish(ctx, _run(_options(source, target, dry_run, report, since, until, batch_size, archive)), as_json,
            None if dry_run else target)


def _restore(ctx: click.Context, source: str | None, run_id: str, as_json: bool) -> None:
    from gdpo.config import ConfigError
    from gdpo.migrate.specs import parse_spec
    from gdpo.storage import open_storage
    from gdpo.storage.provenance import SourceArchive

    spec = parse_spec(source or "config")
    if not spec.exists():
        raise ConfigError(f"--restore-archive: {spec.shown} does not exist (give --from json_legacy:DIR, "
                          "the tree the files were archived from)")

    async def restore() -> dict | None:
        async with open_storage(spec.config, background=False) as storage:
            backends = list(storage.backends.values())
            if len(backends) != 1 or not isinstance(backends[0], SourceArchive):
                return None
            return await backends[0].restore_sources(run_id)

    result = asyncio.run(restore())
    if result is None:
        raise ConfigError("--restore-archive needs --from json_legacy:DIR (the tree the files were archived from)")
    root = result.pop("root")
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"restored {len(result['restored'])} files of run {run_id} to {root}"
                   + (f" ({len(result['in_place'])} had not moved)" if result["in_place"] else ""))
        for rel in result["conflicts"]:
            click.echo(f"CONFLICT {rel}: a file is in its place again; left in the archive")
        for rel in result["missing"]:
            click.echo(f"MISSING {rel}: not in the archive any more")
        for rel in result["checksum_mismatch"]:
            click.echo(f"CHANGED {rel}: its content differs from the checksum in the archive index")
    ctx.exit(1 if result["conflicts"] or result["missing"] or result["checksum_mismatch"] else 0)


@click.command("export")
@click.option("--from", "source", metavar="SPEC", default="config", show_default=True, help="Storage to export from.")
@click.option("--to", "directory", metavar="DIR", required=True, help="Directory of the legacy tree to write (out/ and data/).")
@_shared_options(2000)
@click.pass_context
def export_command(ctx, source, directory, dry_run, report, since, until, batch_size, as_json):
    """Write records as a legacy JSON tree (composite-era layout) that the old system reads."""
    target = f"json_legacy:{directory}"
    _finish(ctx, _run(_options(source, target, dry_run, report, since, until, batch_size)), as_json)


def register(cli: click.Group) -> None:
    """Add ``gdpo migrate`` and ``gdpo export`` to the CLI."""
    cli.add_command(migrate_command)
    cli.add_command(export_command)
