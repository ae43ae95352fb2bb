"""`gdpo db backup` and `gdpo db check` on TimescaleDB, and the documented restore, on the real server."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml

from gdpo.storage import UTC, open_storage
from gdpo.storage.samples import energy_series, full_record
from tests.timescaledb.conftest import _admin
from tests.timescaledb.server import with_database

pytestmark = pytest.mark.timescaledb

FAR_PAST = dt.datetime(1990, 1, 1, tzinfo=UTC)
FAR_FUTURE = dt.datetime(2100, 1, 1, tzinfo=UTC)
KINDS = ("energy_data", "coordinator_decisions", "charging_sessions", "price_forecasts")


def _gdpo(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "GDPO_STORAGE_BACKEND")}
    return subprocess.run([sys.executable, "-m", "gdpo.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def _psql(dsn: str, sql: str) -> None:
    subprocess.run([shutil.which("psql") or "psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
                   check=True, capture_output=True, text=True, timeout=120)


async def _everything(config) -> dict:
    async with open_storage(config, background=False, create=False) as s:
        return {k: [r.to_dict() for r in await s.read(k, FAR_PAST, FAR_FUTURE)] for k in KINDS}


def test_backup_check_and_the_documented_restore_give_back_every_record(tmp_path, make_config, tsdb_server):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None or shutil.which("psql") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and the PostgreSQL client tools (pg_dump, pg_restore, psql) are missing")
        pytest.skip("needs pg_dump, pg_restore and psql (apt-get install postgresql-client)")
    config = make_config("timescaledb", chunk_interval="1 day")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"data_storage": config}))

    async def fill():
        async with open_storage(config) as s:
            await s.write("energy_data", energy_series(dt.datetime(2026, 11, 1, tzinfo=UTC), 3 * 1440, step_s=60))
            for kind in KINDS[1:]:
                await s.write(kind, [full_record(kind, i) for i in range(30)])

    asyncio.run(fill())
    before = asyncio.run(_everything(config))

    check = _gdpo("db", "check", "--full", "--config", str(config_file), cwd=tmp_path)
    assert check.returncode == 0 and "OK: no problems found" in check.stdout, check.stdout + check.stderr
    assert "energy_data: 4320" in check.stdout

    dump = tmp_path / "gdpo.dump"
    backup = _gdpo("db", "backup", str(dump), "--config", str(config_file), cwd=tmp_path)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert dump.stat().st_mode & 0o777 == 0o600 and dump.stat().st_size > 0
    again = _gdpo("db", "backup", str(dump), "--config", str(config_file), cwd=tmp_path)
    assert again.returncode != 0 and "exists already" in again.stderr, "a backup never overwrites one"

    # the restore of docs/storage-timescaledb.md, step by step, into a new database
    name = f"gdpo_restored_{uuid.uuid4().hex[:8]}"

    async def admin(sql):
        conn = await _admin(tsdb_server.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        restored_dsn = with_database(tsdb_server.dsn, name)
        _psql(restored_dsn, "CREATE EXTENSION IF NOT EXISTS timescaledb")
        _psql(restored_dsn, "SELECT timescaledb_pre_restore()")
        subprocess.run(["pg_restore", "--no-owner", "-d", restored_dsn, str(dump)], capture_output=True, text=True,
                       timeout=300)  # it reports the extension it finds already made; the data is what counts
        _psql(restored_dsn, "SELECT timescaledb_post_restore()")
        restored = dict(config, timescaledb=dict(config["timescaledb"], dsn=restored_dsn))
        restored["timescaledb"].pop("password_file", None)
        after = asyncio.run(_everything(restored))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for kind in KINDS:
        assert len(after[kind]) == len(before[kind]) > 0, kind
        assert after[kind] == before[kind], kind


def test_check_of_a_database_without_gdpo_says_to_init(tmp_path, make_config):
    config = make_config("timescaledb")
    config["timescaledb"]["schema"] = f"never_made_{uuid.uuid4().hex[:6]}"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"data_storage": config}))
    out = _gdpo("db", "check", "--config", str(config_file), cwd=tmp_path)
    assert out.returncode == 1 and "run `gdpo db init`" in out.stdout, out.stdout + out.stderr


def test_a_hybrid_backup_writes_one_file_per_backend(tmp_path, make_config):
    ts = make_config("timescaledb")
    config = {"backend": "hybrid", "hybrid": {"sessions": "sqlite", "timeseries": "timescaledb"},
              "sqlite": {"path": str(tmp_path / "data" / "sessions.db")}, "timescaledb": ts["timescaledb"]}
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"data_storage": config}))
    assert _gdpo("db", "init", "--config", str(config_file), cwd=tmp_path).returncode == 0
    out = _gdpo("db", "backup", str(tmp_path / "gdpo-T.db"), "--config", str(config_file), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "gdpo-T-sqlite.db").is_file() and (tmp_path / "gdpo-T-timescaledb.dump").is_file()
    one = _gdpo("db", "backup", str(tmp_path / "only.db"), "--backend", "sqlite", "--config", str(config_file),
                cwd=tmp_path)
    assert one.returncode == 0 and (tmp_path / "only.db").is_file()
