"""Messages that say what to do: each names the thing at fault and the next step."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys


def _gdpo(*args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "gdpo.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def _config(tmp_path, body: str):
    path = tmp_path / "c.yaml"
    path.write_text(body)
    return str(path)


def test_a_foreign_sqlite_file_is_the_wrong_path_not_damage(tmp_path):
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    out = _gdpo("db", "status", "--config", _config(tmp_path, f"data_storage:\n  sqlite:\n    path: {foreign}\n"),
                cwd=tmp_path)
    assert out.returncode != 0
    assert "not damaged" in out.stderr and "data_storage.sqlite.path" in out.stderr
    assert "gdpo db recover" not in out.stderr


def test_an_unwritable_report_path_is_refused_before_any_work(tmp_path):
    target = tmp_path / "t.db"
    out = _gdpo("migrate", "--from", f"json_legacy:{tmp_path}", "--to", f"sqlite:{target}", "--report",
                str(tmp_path / "no" / "such" / "r.json"), cwd=tmp_path)
    assert out.returncode == 2 and "--report" in out.stderr and "no directory" in out.stderr
    assert "Errno" not in out.stderr and not target.exists()


def test_a_missing_source_config_names_its_path(tmp_path):
    cfg = _config(tmp_path, f"data_storage:\n  sqlite:\n    path: {tmp_path / 'none.db'}\n")
    out = _gdpo("migrate", "--from", "config", "--to", f"sqlite:{tmp_path / 'x.db'}", cwd=tmp_path,
                env_extra={"GDPO_CONFIG": cfg})
    assert out.returncode == 2 and str(tmp_path / "none.db") in out.stderr


def test_a_backend_without_backup_is_told_the_alternative(tmp_path):
    (tmp_path / "tree").mkdir()
    cfg = _config(tmp_path, f"data_storage:\n  backend: json_legacy\n  json_legacy:\n    directory: {tmp_path / 'tree'}\n")
    out = _gdpo("db", "backup", str(tmp_path / "b"), "--config", cfg, cwd=tmp_path)
    assert out.returncode != 0 and "does not support `gdpo db backup`" in out.stderr
    assert "gdpo migrate --from config --to sqlite:" in out.stderr
