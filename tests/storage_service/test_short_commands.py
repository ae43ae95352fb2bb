"""Short commands (migrate, db, history) open storage without background jobs: no retention
timer, status file, signal handler or spool replay. Observed from outside: the status
directory, the running tasks, the SIGTERM handler and a spool left by the coordinator."""

from __future__ import annotations

import asyncio
import datetime as _dt
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.migrate.runner import MigrationOptions, migrate
from gdpo.storage import open_storage
from gdpo.storage.spool import Spool
from gdpo.storage.testkit.samples import full_record

pytest.importorskip("gdpo_sqlite.backend")

NOW = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def sqlite_cfg(path: Path) -> dict:
    return {"backend": "sqlite", "sqlite": {"path": str(path)}}


def leave_a_spool(data_dir: Path) -> Spool:
    """A spool as a coordinator leaves it when the database was down: one batch of readings."""
    spool = Spool(data_dir / "spool" / "sqlite")
    spool.append("energy_data", [full_record("energy_data", 0, base=NOW - _dt.timedelta(minutes=5))])
    assert not spool.is_empty()
    return spool


class Observer:
    """A progress stream (a terminal, so the bar is drawn) that looks around each time it is written to."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.seen: list[dict] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> None:
        status = self.data_dir / "status"
        self.seen.append({
            "tasks": sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("gdpo-storage")),
            "status_files": sorted(p.name for p in status.iterdir()) if status.is_dir() else [],
            "sigterm": signal.getsignal(signal.SIGTERM),
        })

    def flush(self) -> None:
        pass


async def test_migrate_runs_no_background_job(tmp_path):
    src, dst = tmp_path / "src" / "gdpo.db", tmp_path / "dst" / "gdpo.db"
    async with open_storage(sqlite_cfg(src), background=False) as s:
        await s.write("energy_data", [full_record("energy_data", i) for i in range(50)])
        await s.write("coordinator_decisions", [full_record("coordinator_decisions", i) for i in range(5)])
    async with open_storage(sqlite_cfg(dst), background=False):
        pass  # the target exists (its spool below is replayed only by a long-running process)
    spool = leave_a_spool(dst.parent)
    observer = Observer(dst.parent)
    sigterm_before = signal.getsignal(signal.SIGTERM)
    report = await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"sqlite:{dst}", progress_stream=observer))
    assert report["exit_code"] == 0
    assert observer.seen, "the progress bar was drawn while the storages were open"
    for look in observer.seen:
        assert look["tasks"] == [], "no flush timer, retry, status or retention task"
        assert look["status_files"] == [], "no status file"
        assert look["sigterm"] == sigterm_before, "no signal handler"
    assert not (dst.parent / "status").exists() and not (src.parent / "status").exists()
    assert not spool.is_empty(), "the coordinator's spool is left for the coordinator"
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("gdpo-storage")] == []


@pytest.mark.parametrize("args", [["db", "status"], ["db", "init"], ["db", "maintain"],
                                  ["history", "energy", "--json"]])
def test_db_and_history_commands_run_no_background_job(tmp_path, args):
    db = tmp_path / "data" / "gdpo.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"data_storage:\n  backend: sqlite\n  sqlite: {{path: {db}}}\n")
    asyncio.run(_create(db))
    spool = leave_a_spool(db.parent)
    result = CliRunner().invoke(cli, [*args, "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not spool.is_empty(), "the spool is not replayed by a short command"
    assert not (db.parent / "status").exists(), "no status file was written"
    if args[0] == "history":
        assert result.output.strip() == "[]", "the spooled reading is not in the database yet"


async def _create(db: Path) -> None:
    async with open_storage(sqlite_cfg(db), background=False):
        pass


def test_the_prices_command_runs_no_background_job(tmp_path):
    db = tmp_path / "data" / "gdpo.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"data_storage:\n  backend: sqlite\n  sqlite: {{path: {db}}}\n"
                      "prices:\n  pse_base_url: http://127.0.0.1:9/api\n  retries: 0\n")
    asyncio.run(_create(db))
    spool = leave_a_spool(db.parent)
    CliRunner().invoke(cli, ["prices", "--date", "2026-12-01", "--config", str(config)])
    assert not spool.is_empty(), "the spool is not replayed by a short command"
    assert not (db.parent / "status").exists(), "no status file was written"
