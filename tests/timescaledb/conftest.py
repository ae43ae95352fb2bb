"""Fixtures of the TimescaleDB tests: a real server, a fresh schema per test.

Two databases are made once per session: ``gdpo_test_ts`` (the backend creates the
timescaledb extension there) and ``gdpo_test_plain``, owned by a role that may not create
extensions and must log in with a password, where the backend runs on plain PostgreSQL
tables (``require_timescale: false``). Each test gets a schema of its own in them.
"""

from __future__ import annotations

import os
import secrets
import uuid

import pytest

asyncpg = pytest.importorskip("asyncpg")

from tests.timescaledb.server import TestServer, find_server, with_database  # noqa: E402

TS_DATABASE = "gdpo_test_ts"
PLAIN_DATABASE = "gdpo_test_plain"
PLAIN_ROLE = "gdpo_test_plain"
# Members of this role must use a password on the local development cluster (see its pg_hba).
PASSWORD_GROUP = "gdpo_password_login"

pytestmark = pytest.mark.timescaledb


def _missing_server(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tsdb_server():
    """The server (container, TIMESCALEDB_TEST_DSN), or skip (fail under CI=true)."""
    server, reason = find_server()
    if server is None:
        _missing_server(reason)
    try:
        yield server
    finally:
        for cleanup in server.cleanup:
            cleanup()


async def _admin(dsn: str, database: str | None = None):
    return await asyncpg.connect(with_database(dsn, database) if database else dsn)


@pytest.fixture(scope="session")
def plain_password(tsdb_server: TestServer, tmp_path_factory) -> str:
    """The password of the plain-PostgreSQL test role (set anew each session)."""
    return secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
def test_databases(tsdb_server: TestServer, plain_password: str):
    """Create the two test databases (fresh each session); returns their DSNs."""
    import asyncio

    async def setup():
        conn = await _admin(tsdb_server.dsn)
        try:
            for db in (TS_DATABASE, PLAIN_DATABASE):
                await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            # from template0: the official image makes the extension in template1, so a database
            # copied from it would hold timescaledb before the backend asks for it
            await conn.execute(f'CREATE DATABASE "{TS_DATABASE}" TEMPLATE template0')
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PLAIN_ROLE)
            verb = "ALTER" if exists else "CREATE"
            # the password is a generated literal (ALTER ROLE takes no parameters)
            await conn.execute(f"{verb} ROLE \"{PLAIN_ROLE}\" LOGIN NOSUPERUSER NOCREATEDB PASSWORD '{plain_password}'")
            if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PASSWORD_GROUP):
                await conn.execute(f'GRANT "{PASSWORD_GROUP}" TO "{PLAIN_ROLE}"')
            await conn.execute(f'CREATE DATABASE "{PLAIN_DATABASE}" OWNER "{PLAIN_ROLE}" TEMPLATE template0')
            # timescaledb is a trusted extension: a role with CREATE on the database could make
            # it. Without that privilege (as on many managed servers) the backend has to run on
            # plain tables, in a schema made for it.
            await conn.execute(f'REVOKE CREATE ON DATABASE "{PLAIN_DATABASE}" FROM PUBLIC, "{PLAIN_ROLE}"')
        finally:
            await conn.close()

    asyncio.run(setup())
    return {"timescaledb": with_database(tsdb_server.dsn, TS_DATABASE),
            "postgresql": with_database(tsdb_server.dsn, PLAIN_DATABASE, user=PLAIN_ROLE)}


@pytest.fixture(scope="session")
def plain_password_file(tmp_path_factory, plain_password: str):
    """A 0600 file holding the plain role's password."""
    path = tmp_path_factory.mktemp("secrets") / "pgpassword"
    path.write_text(plain_password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def fresh_schema(tsdb_server: TestServer, test_databases):
    """A new schema name (made in the plain database for its role); dropped after the test."""
    import asyncio

    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create():
        conn = await _admin(tsdb_server.dsn, PLAIN_DATABASE)
        try:
            await conn.execute(f'CREATE SCHEMA "{name}" AUTHORIZATION "{PLAIN_ROLE}"')
        finally:
            await conn.close()

    asyncio.run(create())
    yield name

    async def drop():
        for db, dsn in ((TS_DATABASE, tsdb_server.dsn), (PLAIN_DATABASE, tsdb_server.dsn)):
            try:
                conn = await _admin(dsn, db)
            except (OSError, asyncpg.PostgresError):
                return  # the server is down (outage test): the database goes next session
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            finally:
                await conn.close()

    try:
        asyncio.run(drop())
    except RuntimeError:  # inside a running loop: leave it, the database is recreated next session
        pass


@pytest.fixture
def make_config(test_databases, fresh_schema, plain_password_file):
    """``make_config(mode, **options)``: a data_storage mapping for this test's schema."""

    def make(mode: str = "timescaledb", **options):
        section = {"dsn": test_databases[mode], "schema": fresh_schema, "pool": {"min": 1, "max": 4}}
        if mode == "postgresql":
            section.update(require_timescale=False, password_file=str(plain_password_file))
        section.update(options)
        return {"backend": "timescaledb", "timescaledb": section}

    return make
