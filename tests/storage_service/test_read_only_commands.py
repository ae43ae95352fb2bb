"""Read-only commands never create a database: a wrong or unset path is an error naming it
(exit 2), not an empty database that looks like lost data."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

READ_ONLY = [
    ["history", "decisions"],
    ["history", "energy"],
    ["health"],
    ["db", "status"],
    ["db", "backup", "{tmp}/backup.db"],
    ["db", "maintain"],
    ["backtest", "--from", "2026-12-01", "--to", "2026-12-02"],
]


def _gdpo(args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    return subprocess.run([sys.executable, "-m", "gdpo.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(f"data_storage:\n  sqlite:\n    path: {tmp_path / 'data' / 'typo.db'}\n")
    return path


@pytest.mark.parametrize("args", READ_ONLY, ids=[" ".join(a[:2]) for a in READ_ONLY])
def test_a_missing_database_is_named_and_never_created(tmp_path, config, args):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = _gdpo([*args, "--config", str(config)], cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert str(tmp_path / "data" / "typo.db") in out.stderr
    assert "gdpo db init" in out.stderr and "data_storage.sqlite.path" in out.stderr
    assert not (tmp_path / "data").exists(), "nothing was created"
    assert not (tmp_path / "backup.db").exists()


def test_after_db_init_the_read_only_commands_work(tmp_path, config):
    assert _gdpo(["db", "init", "--config", str(config)], cwd=tmp_path).returncode == 0
    for args in (["history", "decisions"], ["db", "status"], ["health"]):
        out = _gdpo([*args, "--config", str(config)], cwd=tmp_path)
        assert out.returncode == 0, (args, out.stdout + out.stderr)
