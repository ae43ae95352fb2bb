"""``gdpo db``: init, status, check, backup, recover, maintain against a real SQLite file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.storage.records import KIND_NAMES


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "gdpo.yaml"
    path.write_text(f"data_storage:\n  backend: sqlite\n  sqlite:\n    path: {tmp_path / 'data' / 'gdpo.db'}\n")
    return path


def run(*args):
    result = CliRunner().invoke(cli, list(map(str, args)))
    return result.exit_code, result.output


def _populate(config):
    import asyncio

    from gdpo.storage import open_storage
    from gdpo.storage.testkit import full_record

    async def go():
        async with open_storage(str(config)) as storage:
            for kind in KIND_NAMES:
                await storage.write(kind, [full_record(kind, i) for i in range(7)])

    asyncio.run(go())


def test_init_status_maintain(config, tmp_path):
    code, out = run("db", "init", "--config", config)
    assert code == 0 and "sqlite: ready" in out and str(tmp_path / "data" / "gdpo.db") in out
    _populate(config)
    code, out = run("db", "status", "--config", config, "--json")
    assert code == 0
    status = json.loads(out)
    assert status["routes"]["energy_data"] == "sqlite"
    assert status["backends"]["sqlite"]["kinds"] == {k: 7 for k in KIND_NAMES}
    code, out = run("db", "maintain", "--vacuum", "--config", config)
    assert code == 0 and "vacuum: True" in out


def test_check_backup_recover(config, tmp_path):
    _populate(config)
    code, out = run("db", "check", "--config", config)
    assert code == 0 and "OK: no problems found" in out
    dest = tmp_path / "backup.db"
    code, out = run("db", "backup", dest, "--config", config)
    assert code == 0 and dest.exists() and "energy_data: 7" in out
    code, out = run("db", "backup", dest, "--config", config)
    assert code == 1 and "already exists" in out
    code, out = run("db", "recover", dest, tmp_path / "recovered.db", "--config", config, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["kinds"] == {k: 7 for k in KIND_NAMES} and report["complete"]


def test_check_reports_a_foreign_file_and_exits_1(config, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "gdpo.db").write_text("not a database")
    code, out = run("db", "check", "--config", config)
    assert code == 1 and "not an SQLite database" in out
    code, out = run("db", "status", "--config", config)
    assert code == 1 and "gdpo db recover" in out and "Traceback" not in out


def test_backend_without_the_operation_says_so(memory_backend_registered):
    from gdpo.storage import build_storage
    from gdpo.commands.db import offering
    import click

    storage = build_storage({"backend": "memory", "memory": {"store": "cli-test"}})
    with pytest.raises(click.ClickException, match="backend 'memory' does not support `gdpo db check`"):
        offering(storage, "check")
    assert offering(storage, "maintenance")[0][0] == "memory"


def test_db_group_is_open_for_more_subcommands():
    assert "db" in cli.commands
    assert {"init", "status", "check", "backup", "recover", "maintain"} <= set(cli.commands["db"].commands)
