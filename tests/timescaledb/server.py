"""Finding a TimescaleDB server for the tests, and stopping / starting it for the outage test.

In order: a ``timescale/timescaledb`` container through testcontainers when a Docker engine
answers; otherwise the server at ``TIMESCALEDB_TEST_DSN``; otherwise none (the tests skip
with the reason, or fail under ``CI=true``).
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
LOCAL_SCRIPT = REPO / "scripts" / "dev" / "timescaledb-local.sh"
IMAGE = "timescale/timescaledb:2.17.2-pg15"  # as docker-compose.yml


@dataclass
class TestServer:
    """A server the tests may use: its admin DSN and, when known, how to stop and start it."""

    dsn: str
    origin: str
    stop: Callable[[], None] | None = None
    start: Callable[[], None] | None = None
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def controllable(self) -> bool:
        """True when the outage test can stop and start this server."""
        return self.stop is not None and self.start is not None


def with_database(dsn: str, database: str, *, user: str | None = None) -> str:
    """``dsn`` pointing at another database (and user, without a password)."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rsplit('@', 1)[-1]}"
    return urlunsplit(parts._replace(netloc=netloc, path="/" + database))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def _wait_until_ready(dsn: str, timeout_s: float = 90.0) -> None:
    """Block until the server accepts a query (a restarted container takes a while)."""
    import asyncio
    import time

    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            asyncio.run(probe())
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _container_server() -> TestServer:
    """A ``timescale/timescaledb`` container (the official image from a registry, or a local one
    of that name). ``GDPO_TEST_CONTAINER_NETWORK=host`` (an engine without bridge networks, as
    podman on scripts/containers-check.sh's machines): the container shares the host's network
    and its server listens on a free port of 127.0.0.1 (``PGPORT``) instead of a published one."""
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer

    port = _free_port()
    if os.environ.get("GDPO_TEST_CONTAINER_NETWORK") == "host":
        container = PostgresContainer(IMAGE, port=port, username="gdpo", password="gdpo-test", dbname="gdpo",
                                      driver=None)
        container.with_env("PGPORT", str(port))  # the server's port, and psql's in the readiness probe
        container.with_command("-c listen_addresses=127.0.0.1")
        container.with_kwargs(network_mode="host")
        container.ports = {}  # nothing to publish on the host's own network
    else:
        container = PostgresContainer(IMAGE, username="gdpo", password="gdpo-test", dbname="gdpo", driver=None)
        container.with_bind_ports(5432, ("127.0.0.1", port))  # a fixed port survives a restart
    container.start()
    dsn = f"postgresql://gdpo:gdpo-test@127.0.0.1:{port}/gdpo"
    wrapped = container.get_wrapped_container()
    _wait_until_ready(dsn)

    def start() -> None:
        wrapped.start()
        _wait_until_ready(dsn)

    server = TestServer(dsn, f"testcontainers {IMAGE}", stop=lambda: wrapped.stop(timeout=10), start=start)
    server.cleanup.append(container.stop)
    return server


def _local_script_dsn() -> str | None:
    if not os.access(LOCAL_SCRIPT, os.X_OK):
        return None
    try:
        out = subprocess.run([str(LOCAL_SCRIPT), "dsn"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _run_local(command: str) -> None:
    subprocess.run([str(LOCAL_SCRIPT), command], check=True, capture_output=True, timeout=120)


def find_server() -> tuple[TestServer | None, str]:
    """The server to test against, or None and the reason there is none."""
    if _docker_answers():
        return _container_server(), ""
    dsn = os.environ.get("TIMESCALEDB_TEST_DSN")
    if not dsn:
        return None, ("no TimescaleDB server: no Docker engine answers and TIMESCALEDB_TEST_DSN is not set "
                      "(run scripts/dev/install-timescaledb.sh as root, then scripts/dev/timescaledb-local.sh start)")
    if dsn == _local_script_dsn():
        return TestServer(dsn, "scripts/dev/timescaledb-local.sh", stop=lambda: _run_local("stop"),
                          start=lambda: _run_local("start")), ""
    return TestServer(dsn, "TIMESCALEDB_TEST_DSN"), ""
