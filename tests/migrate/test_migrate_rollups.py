"""Rollups are data: migrate, export and recover carry the hourly and daily rollups, so a
daily aggregate over the whole history is the same before and after (after retention
deleted the older raw rows)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.migrate.runner import MigrationOptions, migrate

from tests.migrate.rollup_history import DAYS, assert_close, make_history, raw_count, whole_history

pytestmark = pytest.mark.usefixtures("sqlite_backend")


@pytest.fixture
def sqlite_backend():
    pytest.importorskip("gdpo_sqlite.backend")


def sqlite_cfg(path) -> dict:
    return {"backend": "sqlite", "sqlite": {"path": str(path)}}


@pytest.fixture
async def history(tmp_path):
    """A SQLite database of 20 days whose first 15 exist only as rollups."""
    src = tmp_path / "src" / "gdpo.db"
    before, after, report = await make_history(sqlite_cfg(src))
    assert report["kinds"]["energy_data"]["records"] > 0 and report["kinds"]["energy_data"]["rollup_hours"] > 0
    assert len(before) == DAYS
    assert_close(after, before)
    return src, before, after, report


async def test_sqlite_to_sqlite_carries_the_rollups(tmp_path, history):
    src, before, after, retention = history
    dst = tmp_path / "dst" / "gdpo.db"
    report = await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"sqlite:{dst}"))
    assert report["exit_code"] == 0 and report["checksums_match"] is True
    hours = retention["kinds"]["energy_data"]["rollup_hours"]
    hourly = report["rollups"]["energy_data"]
    assert hourly == {"read": hours, "written": hours, "already_present": 0, "in_target": hours, "match": True}
    assert report["rollups"]["energy_data@1d"]["written"] >= 14
    got = await whole_history(sqlite_cfg(dst))
    assert got == after, "the copy answers exactly as the source"
    assert_close(got, before)
    assert await raw_count(sqlite_cfg(dst)) == await raw_count(sqlite_cfg(src))
    again = await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"sqlite:{dst}"))
    assert again["rollups"]["energy_data"]["written"] == 0
    assert again["rollups"]["energy_data"]["already_present"] == hours and again["checksums_match"] is True


async def test_a_rollup_missing_in_the_target_is_written_again(tmp_path, history):
    """The target must hold every rollup: one deleted from the target is written again,
    and a dry run counts what it would write."""
    src, *_ = history
    dst = tmp_path / "dst" / "gdpo.db"
    await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"sqlite:{dst}"))
    import sqlite3

    conn = sqlite3.connect(dst)
    conn.execute("DELETE FROM storage_rollups WHERE kind = 'energy_data' AND start_us = "
                 "(SELECT min(start_us) FROM storage_rollups WHERE kind = 'energy_data')")
    conn.commit()
    conn.close()
    dry = await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"sqlite:{dst}", dry_run=True))
    assert dry["rollups"]["energy_data"]["written"] == 1
    fixed = await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"sqlite:{dst}"))
    assert fixed["rollups"]["energy_data"]["written"] == 1 and fixed["checksums_match"] is True


async def test_since_until_limit_the_rollups(tmp_path, history):
    import datetime as _dt

    src, *_ = history
    dst = tmp_path / "dst" / "gdpo.db"
    day = _dt.date(2025, 10, 20)
    report = await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"sqlite:{dst}", since=day, until=day))
    assert report["rollups"]["energy_data"]["written"] == 24
    assert report["rollups"]["energy_data@1d"]["written"] == 1


async def test_export_and_import_back_carry_the_rollups(tmp_path, history):
    src, before, after, _ = history
    tree = tmp_path / "legacy"
    report = await migrate(MigrationOptions(source=f"sqlite:{src}", target=f"json_legacy:{tree}",
                                            batch_size=2000))  # what `gdpo export` runs
    assert report["exit_code"] == 0, report
    assert report["checksums_match"] is True and report["rollups"]["energy_data"]["in_target"] > 0
    assert (tree / "gdpo-rollups.ndjson").is_file()
    exported = await whole_history({"backend": "json_legacy", "json_legacy": {"directory": str(tree)}})
    assert_close(exported, before)
    back = tmp_path / "back" / "gdpo.db"
    again = await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=f"sqlite:{back}"))
    assert again["exit_code"] == 0 and again["checksums_match"] is True
    assert again["rollups"]["energy_data"]["written"] == report["rollups"]["energy_data"]["written"]
    assert await whole_history(sqlite_cfg(back)) == after


def test_recover_carries_the_rollups(tmp_path, history):
    src, before, after, retention = history
    dest = tmp_path / "recovered.db"
    result = CliRunner().invoke(cli, ["db", "recover", str(src), str(dest), "--json"], catch_exceptions=False,
                                env={"GDPO_CONFIG": "", "DATABASE_PATH": str(tmp_path / "cfg" / "x.db")})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["complete"] is True
    assert report["rollups"]["energy_data"] == retention["kinds"]["energy_data"]["rollup_hours"]
    assert report["rollups"]["energy_data@1d"] >= 14
    import asyncio

    got = asyncio.run(whole_history(sqlite_cfg(dest)))
    assert got == after
    assert_close(got, before)


async def test_a_target_that_would_lose_the_rollups_fails_validation(tmp_path, history, memory_backend_registered):
    """A target keeping rollups only in memory (no rollup table, no data directory) would
    drop them on close: the run says so and exits 1 instead of reporting success."""
    src, *_ = history
    report = await migrate(MigrationOptions(source=f"sqlite:{src}", target="memory:rollup-loss"))
    assert report["checksums_match"] is False and report["exit_code"] == 1
    assert report["rollups"]["energy_data"]["match"] is False
    assert any("only in memory" in n["note"] for n in report["notes"])
    from gdpo.storage.memory import drop_store

    drop_store("rollup-loss")


def test_export_command_reports_the_rollups(tmp_path, history):
    src, *_ = history
    tree = tmp_path / "legacy"
    result = CliRunner().invoke(cli, ["export", "--from", f"sqlite:{src}", "--to", str(tree)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "energy_data hourly rollups" in result.output and "energy_data daily rollups" in result.output
    assert "validation: checksums match" in result.output
