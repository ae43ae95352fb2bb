"""A password typed into a --to/--from DSN is warned about (and never shown)."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from gdpo.cli import cli

SECRET = "typed-in-9c1e"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("dsn", [f"postgresql://gdpo:{SECRET}@127.0.0.1:{{port}}/gdpo",
                                 f"host=127.0.0.1 port={{port}} user=gdpo password={SECRET} dbname=gdpo"])
def test_password_in_a_to_dsn_is_warned_about(tmp_path, dsn):
    pytest.importorskip("gdpo_timescaledb.backend")
    pytest.importorskip("gdpo_sqlite.backend")
    src = tmp_path / "src.db"
    src.touch()
    result = CliRunner().invoke(cli, ["migrate", "--from", f"sqlite:{src}", "--to",
                                      "timescaledb:" + dsn.format(port=_closed_port())])
    assert result.exit_code != 0  # nothing listens there
    assert "--to" in result.stderr and "holds a password" in result.stderr
    assert "PGPASSWORD" in result.stderr and "password_file" in result.stderr
    assert SECRET not in result.output and SECRET not in result.stderr


def test_password_in_a_from_dsn_is_warned_about(tmp_path):
    pytest.importorskip("gdpo_timescaledb.backend")
    dsn = f"postgresql://gdpo:{SECRET}@127.0.0.1:{_closed_port()}/gdpo?connect_timeout=2"
    result = CliRunner().invoke(cli, ["export", "--from", f"timescaledb:{dsn}", "--to", str(tmp_path / "tree")])
    assert result.exit_code != 0
    assert "--from" in result.stderr and "holds a password" in result.stderr
    assert SECRET not in result.output and SECRET not in result.stderr


def test_no_warning_without_a_password(tmp_path):
    pytest.importorskip("gdpo_sqlite.backend")
    src, dst = tmp_path / "a.db", tmp_path / "b.db"
    src.touch()
    result = CliRunner().invoke(cli, ["migrate", "--from", f"sqlite:{src}", "--to", f"sqlite:{dst}"])
    assert "holds a password" not in result.output
