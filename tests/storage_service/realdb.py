"""Real databases for the storage service tests: SQLite files and a TimescaleDB server.

The server is ``TIMESCALEDB_TEST_DSN`` when set, else the local development server of
``scripts/dev/timescaledb-local.sh`` (started here when the extension is installed). Without
either, the tests skip with the reason; under ``CI=true`` they fail instead. The server can
be stopped and started (for the outage test) only when it is the local script's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import with_overrides

REPO = Path(__file__).resolve().parents[2]
LOCAL_SCRIPT = REPO / "scripts" / "dev" / "timescaledb-local.sh"


def missing(reason: str):
    """Skip on a laptop; fail under CI=true."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _script(command: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(LOCAL_SCRIPT), command], capture_output=True, text=True, timeout=timeout)


@dataclass
class TimescaleServer:
    """A TimescaleDB server: its DSN, and whether the tests may stop and start it."""

    dsn: str
    local: bool

    def stop(self) -> None:
        """Stop the local server (blocking)."""
        out = _script("stop")
        assert out.returncode == 0, out.stderr

    def start(self) -> None:
        """Start the local server again (blocking)."""
        out = _script("start")
        assert out.returncode == 0, out.stderr


def find_timescale() -> tuple[TimescaleServer | None, str]:
    """The server to use, or None and why there is none."""
    local_ok = os.access(LOCAL_SCRIPT, os.X_OK)
    local_dsn = None
    if local_ok:
        if _script("status", 30).returncode != 0:
            started = _script("start")
            if started.returncode != 0:
                local_ok = False
                reason = started.stderr.strip().splitlines()[-1:] or ["no output"]
        if local_ok:
            out = _script("dsn", 30)
            local_dsn = out.stdout.strip() if out.returncode == 0 else None
    dsn = os.environ.get("TIMESCALEDB_TEST_DSN") or local_dsn
    if not dsn:
        why = "TIMESCALEDB_TEST_DSN is not set and scripts/dev/timescaledb-local.sh could not start a server"
        if local_ok is False and os.access(LOCAL_SCRIPT, os.X_OK):
            why += f" ({reason[0]}; run scripts/dev/install-timescaledb.sh as root)"
        return None, why
    return TimescaleServer(dsn, local=(dsn == local_dsn)), ""


@pytest.fixture(scope="session")
def timescale_server():
    """The TimescaleDB server of this session (skip, or fail under CI=true, without one)."""
    import asyncpg  # noqa: F401  (the timescaledb extra: installed by scripts/test.sh)
    import gdpo_timescaledb.backend  # noqa: F401  (part of this tree: missing is an error, not a skip)

    server, reason = find_timescale()
    if server is None:
        missing(f"no TimescaleDB server: {reason}")
    return server


@pytest.fixture
def controllable_timescale(timescale_server):
    """The server, when the tests may stop and start it."""
    if not timescale_server.local:
        missing("the TimescaleDB server is not the local script's (scripts/dev/timescaledb-local.sh), "
                "so the outage test cannot stop and start it")
    return timescale_server


@pytest.fixture
def timescale_schema(timescale_server):
    """A fresh schema name, dropped after the test."""
    name = f"svc_{uuid.uuid4().hex[:12]}"
    yield name

    async def drop():
        import asyncpg

        conn = await asyncpg.connect(timescale_server.dsn, timeout=10)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    try:
        asyncio.run(drop())
    except Exception:  # the server may be down after a failed outage test; the schema is harmless
        pass


@pytest.fixture
def hybrid_real_config(tmp_path, timescale_server, timescale_schema):
    """``make(**overrides)``: hybrid(sqlite, timescaledb) on a fresh file and schema."""

    def make(**overrides):
        cfg = {"backend": "hybrid", "hybrid": {"sessions": "sqlite", "timeseries": "timescaledb"},
               "sqlite": {"path": str(tmp_path / "data" / "gdpo.db")},
               "timescaledb": {"dsn": timescale_server.dsn, "schema": timescale_schema,
                               "pool": {"min": 1, "max": 4}, "policies": False, "connect_timeout_s": 3},
               "spool": {"retry_initial_s": 0.1, "retry_max_s": 0.5}}
        return with_overrides(cfg, overrides)

    return make
