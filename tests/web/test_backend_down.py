"""A backend that does not answer: every API route is a 503 naming it, never an empty or
partial answer; the pages say so too (503)."""

from __future__ import annotations

import socket

import httpx
import pytest

from gdpo.config import load_config
from gdpo.storage import open_storage
from gdpo.web.app import create_app

from tests.web.conftest import open_client, write_config

ROUTES = ["/api/v1/status", "/api/v1/energy", "/api/v1/energy?every=1h", "/api/v1/decisions", "/api/v1/sessions",
          "/api/v1/selling", "/api/v1/prices", "/api/v1/daily", "/api/v1/summary/monthly"]
PAGES = ["/", "/timeseries", "/decisions", "/sessions", "/prices", "/monthly"]


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def assert_down(http, backend: str) -> None:
    """Every route answers 503 naming ``backend``; /health 503 with the problem."""
    for url in ROUTES:
        r = await http.get(url)
        assert r.status_code == 503, (url, r.status_code, r.text[:300])
        body = r.json()
        assert body["backend"] == backend and backend in body["error"], (url, body)
        assert "items" not in body
    health = await http.get("/health")
    assert health.status_code == 503 and health.json()["ok"] is False and health.json()["problems"]
    for url in PAGES:
        r = await http.get(url)
        assert r.status_code == 503, (url, r.status_code)
        assert backend in r.text


async def test_a_closed_sqlite_storage_is_a_503_naming_sqlite(simulated_db):
    path, summary = simulated_db
    client = await open_client(path, now=lambda: summary.end)
    try:
        assert (await client.get("/api/v1/status")).status_code == 200
        await client._cm.__aexit__(None, None, None)  # the database goes away under the app
        await assert_down(client.http, "sqlite")
    finally:
        await client.http.aclose()


@pytest.mark.timescaledb
async def test_an_unreachable_timescaledb_is_a_503_naming_timescaledb(tmp_path):
    """As in ``gdpo run --web``: the coordinator's storage starts with the server unreachable
    (its writes spooled, the backend opened once it answers); the dashboard says it is down."""
    dsn = f"postgresql://gdpo@127.0.0.1:{closed_port()}/gdpo"
    cfg = load_config(write_config(tmp_path, {"backend": "timescaledb", "data_directory": str(tmp_path / "data"),
                                              "timescaledb": {"dsn": dsn, "pool": {"min": 1, "max": 1},
                                                              "connect_timeout_s": 1}}), env={})
    async with open_storage(cfg, background=True) as storage:
        app = create_app(storage, cfg)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            await assert_down(http, "timescaledb")
