"""The first run works for anyone: a default data directory the user can write, stated by
`gdpo config check`; `gdpo config init` writes a valid, explained starting config."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
import yaml

from gdpo.config import load_config, section_schemas
from gdpo.storage import locations


def _gdpo(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    return subprocess.run([sys.executable, "-m", "gdpo.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def test_the_system_directory_when_writable_else_a_per_user_one(tmp_path, monkeypatch):
    monkeypatch.setattr(locations, "SYSTEM_DATA_DIR", tmp_path / "opt" / "data")
    assert locations.default_data_dir()[0] == tmp_path / "opt" / "data", "it could be created"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(locations, "SYSTEM_DATA_DIR", blocker / "data")
    where, why = locations.default_data_dir({"HOME": str(tmp_path / "home")})
    assert where == tmp_path / "home" / ".local" / "share" / "goodwe-dynamic-price-optimiser"
    assert "not writable" in why
    assert locations.user_data_dir({"XDG_DATA_HOME": "/x"}) == locations.Path("/x/goodwe-dynamic-price-optimiser")


def test_config_check_says_where_the_database_is_and_why(tmp_path):
    out = _gdpo("config", "check", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("# database: "))
    assert "goodwe_energy.db (default: " in line and "DATABASE_PATH" in line


def test_a_permission_error_names_the_key_and_the_variable():
    from pathlib import Path

    from gdpo_sqlite.files import _cannot

    err = _cannot(Path("/opt/x/db"), "create the database directory for /opt/x/db",
                  PermissionError(errno.EACCES, "Permission denied"))
    assert "data_storage.sqlite.path" in str(err) and "DATABASE_PATH" in str(err)


def test_config_init_writes_a_valid_explained_config_and_never_overwrites(tmp_path):
    out = _gdpo("config", "init", "my.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "my.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    written = yaml.safe_load(text)
    assert set(written) == {"inverter", "tariffs", "battery", "data_storage"}, "the values to choose are set"
    cfg = load_config(path, env={})
    assert cfg.get("tariffs.tariff") == "g12"
    for name, schema in section_schemas().items():  # every key of every section is shown, with its help
        assert f"{name}:" in text, name
        for key, spec in (schema or {}).items():
            assert f"{key}:" in text, f"{name}.{key}"
    check = _gdpo("config", "check", "my.yaml", cwd=tmp_path)
    assert check.returncode == 0 and "OK: configuration is valid" in check.stdout
    again = _gdpo("config", "init", "my.yaml", cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert path.read_text() == text
    assert _gdpo("config", "init", "my.yaml", "--force", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("key, value", [("inverter.host", "192.168.1.50"), ("tariffs.tariff", "g11")])
def test_the_chosen_values_are_plain_yaml_a_user_can_edit(tmp_path, key, value):
    assert _gdpo("config", "init", "c.yaml", cwd=tmp_path).returncode == 0
    path = tmp_path / "c.yaml"
    section, name = key.split(".")
    data = yaml.safe_load(path.read_text())
    data[section][name] = value
    path.write_text(yaml.safe_dump(data))
    assert load_config(path, env={}).get(key) == value
