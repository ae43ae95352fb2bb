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
    """Close the client and the storage."""
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
