"""Fixtures of the web tests: a real SQLite database filled by a simulated coordinator run
(the built-in simulator, the real goodwe library, loopback only), the app over it, and an
HTTP client talking to the app in process."""

from __future__ import annotations

import asyncio
import datetime as _dt
from pathlib import Path

import httpx
import pytest
import yaml

from gdpo.commands.run import RunOptions, run_coordinator
from gdpo.config import load_config
from gdpo.storage import open_storage
from gdpo.storage.aggregate import zone
from gdpo.web.app import create_app

START = _dt.datetime(2026, 3, 9, 22, 0)  # local time; the run crosses midnight
NO_PSE = {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0, "timeout_s": 1.0}


def write_config(tmp: Path, data_storage: dict, **sections) -> Path:
    """A config file with the given storage and sections."""
    path = tmp / "gdpo.yaml"
    path.write_text(yaml.safe_dump({"data_storage": data_storage, "prices": NO_PSE,
                                    "coordinator": {"strategy": "optimiser"}, **sections}))
    return path


async def simulate(cfg_path: Path, hours: int = 3, start: _dt.datetime = START):
    """Run the coordinator on the simulator for ``hours`` of simulated time; the summary."""
    cfg = load_config(cfg_path, env={})
    t0 = start.replace(tzinfo=zone("Europe/Warsaw")).astimezone(_dt.timezone.utc)
    return await run_coordinator(cfg, RunOptions(simulate=True, speed=900, duration=_dt.timedelta(hours=hours),
                                                 start=t0, quiet=True), echo=lambda line: None)


@pytest.fixture(scope="session")
def simulated_db(tmp_path_factory):
    """(config path, run summary) of a SQLite database a 3-hour simulated night filled."""
    tmp = tmp_path_factory.mktemp("web-sim")
    path = write_config(tmp, {"backend": "sqlite", "sqlite": {"path": str(tmp / "data" / "gdpo.db")}})
    summary = asyncio.run(simulate(path))
    return path, summary


def fixed_now(summary):
    """A clock standing at the end of the simulated run."""
    return lambda: summary.end


class Client:
    """An open Storage, the app over it and an httpx client (in process, no socket)."""

    def __init__(self, storage, app, http):
        self.storage, self.app, self.http = storage, app, http

    async def get(self, url, **kw):
        """GET ``url``."""
        return await self.http.get(url, **kw)


async def open_client(cfg_path, now=None, **kw):
    """Storage (read-only use, no background jobs), the app and the client; close with close_client."""
    cfg = load_config(cfg_path, env={})
    cm = open_storage(cfg, background=False)
    storage = await cm.__aenter__()
    app = create_app(storage, cfg, now=now, **kw)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
    client = Client(storage, app, http)
    client._cm = cm
    return client


async def close_client(client):
    """Stop the app's background work, close the client and the storage."""
    from gdpo.web import savings

    await savings.stop_warm(client.app.state.ctx)
    await client.http.aclose()
    await client._cm.__aexit__(None, None, None)


@pytest.fixture
async def sim_client(simulated_db):
    """A client over the simulated run's database, the clock at the run's end."""
    path, summary = simulated_db
    client = await open_client(path, now=fixed_now(summary))
    client.summary = summary
    yield client
    await close_client(client)


# --------------------------------------------------------------------------- filled databases
# The API and page tests run over each of these (one parametrised fixture, conformance style):
# SQLite filled by a simulated run, SQLite filled by migrating the legacy sample tree, and the
# same two on TimescaleDB (skipped without a server on a laptop, failing under CI=true).

import os  # noqa: E402
import shutil  # noqa: E402
import uuid  # noqa: E402

SAMPLES = Path(os.environ.get("GDPO_LEGACY_SAMPLES")
               or Path(__file__).resolve().parents[1] / "migrate" / "legacy_samples")


class FilledDb:
    """A config file over a filled database and the clock standing at the end of its data."""

    def __init__(self, name: str, cfg_path: Path, now: _dt.datetime):
        self.name, self.cfg_path, self.now = name, cfg_path, now

    def clock(self):
        """A fixed clock at ``now``."""
        return lambda: self.now


async def _data_end(cfg_path: Path) -> _dt.datetime:
    """A minute after the latest stored reading."""
    async with open_storage(load_config(cfg_path, env={}), background=False) as storage:
        latest = await storage.latest("energy_data")
    return latest.ts + _dt.timedelta(minutes=1)


async def _migrate_samples(cfg_path: Path, tmp: Path) -> None:
    from gdpo.migrate.runner import MigrationOptions, migrate

    if not (SAMPLES / "manifest.json").is_file():
        pytest.skip(f"legacy samples not found at {SAMPLES} (set GDPO_LEGACY_SAMPLES)")
    tree = tmp / "legacy"
    shutil.copytree(SAMPLES / "tree", tree)
    await migrate(MigrationOptions(source=f"json_legacy:{tree}", target=f"config:{cfg_path}"))


def _fill(name: str, tmp: Path, data_storage: dict, how: str) -> FilledDb:
    path = write_config(tmp, data_storage)
    if how == "simulated":
        summary = asyncio.run(simulate(path))
        return FilledDb(name, path, summary.end)
    asyncio.run(_migrate_samples(path, tmp))
    return FilledDb(name, path, asyncio.run(_data_end(path)))


@pytest.fixture(scope="session")
def sqlite_simulated(simulated_db) -> FilledDb:
    """SQLite filled by a 3-hour simulated night (the same database as ``simulated_db``)."""
    path, summary = simulated_db
    return FilledDb("sqlite-simulated", path, summary.end)


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory) -> FilledDb:
    """SQLite filled by migrating the legacy sample tree."""
    tmp = tmp_path_factory.mktemp("web-migrated")
    return _fill("sqlite-migrated", tmp, {"backend": "sqlite", "sqlite": {"path": str(tmp / "gdpo.db")}}, "migrated")


@pytest.fixture(scope="session")
def tsdb_dsn():
    """A DSN of a fresh database ``gdpo_test_web`` on the TimescaleDB test server, or skip
    (fail under CI=true)."""
    import asyncpg

    from tests.timescaledb.server import find_server, with_database

    server, reason = find_server()
    if server is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)

    async def create():
        conn = await asyncpg.connect(server.dsn)
        try:
            await conn.execute('DROP DATABASE IF EXISTS "gdpo_test_web" WITH (FORCE)')
            await conn.execute('CREATE DATABASE "gdpo_test_web"')
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield with_database(server.dsn, "gdpo_test_web")
    finally:
        for cleanup in server.cleanup:
            cleanup()


def _tsdb_storage(dsn: str) -> dict:
    return {"backend": "timescaledb",
            "timescaledb": {"dsn": dsn, "schema": f"w_{uuid.uuid4().hex[:10]}", "pool": {"min": 1, "max": 4}}}


@pytest.fixture(scope="session")
def timescaledb_simulated(tsdb_dsn, tmp_path_factory) -> FilledDb:
    """TimescaleDB filled by the same simulated night."""
    return _fill("timescaledb-simulated", tmp_path_factory.mktemp("web-ts-sim"), _tsdb_storage(tsdb_dsn), "simulated")


@pytest.fixture(scope="session")
def timescaledb_migrated(tsdb_dsn, tmp_path_factory) -> FilledDb:
    """TimescaleDB filled by migrating the sample tree."""
    return _fill("timescaledb-migrated", tmp_path_factory.mktemp("web-ts-mig"), _tsdb_storage(tsdb_dsn), "migrated")


BACKENDS = ["sqlite_simulated", "sqlite_migrated",
            pytest.param("timescaledb_simulated", marks=pytest.mark.timescaledb),
            pytest.param("timescaledb_migrated", marks=pytest.mark.timescaledb)]


@pytest.fixture(params=BACKENDS)
def filled(request) -> FilledDb:
    """Each filled database in turn."""
    return request.getfixturevalue(request.param)


@pytest.fixture
async def client(filled):
    """A client over ``filled``, the clock at the end of its data."""
    c = await open_client(filled.cfg_path, now=filled.clock())
    c.filled = filled
    yield c
    await close_client(c)


@pytest.fixture
def empty_db(tmp_path) -> Path:
    """The config of an empty SQLite database."""
    return write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "empty.db")}})
