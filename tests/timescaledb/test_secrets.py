"""Passwords: from password_file, the DSN or libpq's sources; never in an error, log or config check."""

import logging
import socket

import asyncpg
import pytest
from click.testing import CliRunner

from gdpo.cli import cli
from gdpo.config import load_config
from gdpo.storage import StorageConnectionError, StorageError, open_storage
from tests.timescaledb.conftest import PLAIN_ROLE

pytestmark = pytest.mark.timescaledb

SECRET = "n0t-the-Right-pw-7f3a"


def _with_password(dsn: str, password: str) -> str:
    scheme, rest = dsn.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{password}@{host}"


@pytest.fixture
async def checks_passwords(test_databases):
    """Skip where the server lets the plain role in without a password."""
    try:
        conn = await asyncpg.connect(test_databases["postgresql"], password=SECRET)
    except asyncpg.InvalidPasswordError:
        return
    await conn.close()
    pytest.skip("this server does not check the test role's password")


async def test_password_file_is_used(make_config):
    async with open_storage(make_config("postgresql")) as s:
        assert (await s.health())[0].ok


async def test_wrong_password_file_fails_without_showing_it(make_config, tmp_path, checks_passwords, caplog):
    bad = tmp_path / "pw"
    bad.write_text(SECRET + "\n")
    bad.chmod(0o600)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageError) as err:
        async with open_storage(make_config("postgresql", password_file=str(bad))):
            pass
    assert "authentication failed" in str(err.value)
    assert PLAIN_ROLE in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in caplog.text


async def test_missing_password_file_names_the_file(make_config, tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(StorageError, match="password_file .*nope"):
        async with open_storage(make_config("postgresql", password_file=str(missing))):
            pass


async def test_password_in_the_dsn_is_masked_in_errors(make_config, test_databases, checks_passwords):
    dsn = _with_password(test_databases["postgresql"], SECRET)
    with pytest.raises(StorageError) as err:
        async with open_storage(make_config("postgresql", dsn=dsn, password_file=None)):
            pass
    assert SECRET not in str(err.value) and "***" in str(err.value)


async def test_pgpassword_and_pgpass_are_libpq_sources(make_config, plain_password, monkeypatch, tmp_path,
                                                       test_databases):
    monkeypatch.setenv("PGPASSWORD", plain_password)
    async with open_storage(make_config("postgresql", password_file=None)) as s:
        assert (await s.health())[0].ok
    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{PLAIN_ROLE}:{plain_password}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    async with open_storage(make_config("postgresql", password_file=None)) as s:
        assert (await s.health())[0].ok


async def test_server_down_is_a_typed_error_naming_the_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    dsn = f"postgresql://gdpo:{SECRET}@127.0.0.1:{port}/gdpo"
    with pytest.raises(StorageConnectionError) as err:
        async with open_storage({"backend": "timescaledb", "timescaledb": {"dsn": dsn, "connect_timeout_s": 2}}):
            pass
    message = str(err.value)
    assert f"127.0.0.1:{port}/gdpo" in message and SECRET not in message and "***" in message


def test_config_check_masks_the_dsn_password(monkeypatch):
    dsn = f"postgresql://gdpo:{SECRET}@127.0.0.1:5432/gdpo"
    cfg = load_config({"backend": "timescaledb", "timescaledb": {"dsn": dsn}}, data_storage_only=True)
    assert SECRET not in repr(cfg) and SECRET not in str(cfg.masked())
    result = CliRunner().invoke(cli, ["config", "check"], env={"TIMESCALEDB_DSN": dsn, "GDPO_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert "data_storage.timescaledb.dsn" in result.output
    assert SECRET not in result.output


async def test_sslmode_is_passed_to_the_driver(make_config):
    async with open_storage(make_config("timescaledb", sslmode="disable")) as s:
        assert (await s.health())[0].ok
    try:
        async with open_storage(make_config("timescaledb", sslmode="require")) as s:
            assert (await s.health())[0].ok  # a server with TLS
    except StorageError as exc:  # a server without TLS refuses, and the message says so
        assert "SSL" in str(exc) or "ssl" in str(exc)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("mode, owner", [(0o644, None), (0o604, None), (0o660, None), (0o640, "not root")])
async def test_a_password_file_others_may_read_is_refused_naming_it(tmp_path, mode, owner):
    import os

    pw = tmp_path / "pgpassword"
    pw.write_text(SECRET + "\n")
    pw.chmod(mode)
    if owner == "not root" and os.geteuid() == 0:
        os.chown(pw, 65534, 65534)  # nobody: a group-readable file root does not own
    cfg = {"backend": "timescaledb", "timescaledb": {"dsn": f"postgresql://gdpo@127.0.0.1:{_closed_port()}/gdpo",
                                                     "password_file": str(pw), "connect_timeout_s": 2}}
    with pytest.raises(StorageError) as err:
        async with open_storage(cfg, background=False):
            pass
    message = str(err.value)
    assert str(pw) in message and f"{mode:04o}" in message and "chmod 600" in message
    assert SECRET not in message


async def test_a_private_password_file_is_read(tmp_path):
    import os

    from gdpo_timescaledb.connection import password_file_problem, read_password_file

    pw = tmp_path / "pgpassword"
    pw.write_text(SECRET + "\n")
    pw.chmod(0o600)
    assert read_password_file(str(pw)) == SECRET
    pw.chmod(0o400)
    assert read_password_file(str(pw)) == SECRET
    # root:gdpo 0640 (the installed layout: the service's group reads it) is private enough
    pw.chmod(0o640)
    st = os.stat(pw)
    assert password_file_problem(pw, os.stat_result((st.st_mode, *st[1:4], 0, *st[5:]))) is None
