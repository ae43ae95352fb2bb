"""Schema, migrations and edition handling on the real server."""

import asyncio

import asyncpg
import pytest

from gdpo.storage import StorageError, open_storage
from gdpo.storage.records import KIND_NAMES
from gdpo_timescaledb.schema import CURRENT_VERSION
from gdpo_timescaledb.tables import HYPERTABLE_KINDS
from tests.timescaledb.conftest import PLAIN_ROLE

pytestmark = pytest.mark.timescaledb


def _backend_stats(stats):
    (only,) = stats["backends"].values()
    return only


async def test_timescale_mode_uses_hypertables(make_config):
    async with open_storage(make_config("timescaledb", chunk_interval="1 day")) as s:
        st = _backend_stats(await s.stats())
    assert st["mode"] == "timescaledb"
    assert st["edition"] in ("apache", "timescale")
    assert st["timescaledb_version"]
    assert sorted(st["hypertables"]) == sorted(HYPERTABLE_KINDS)
    assert st["hypertables"]["energy_data"]["chunk_interval"] == "1 day"
    assert st["hypertables"]["price_forecasts"]["chunk_interval"] == "30 days"
    assert set(st["kinds"]) == set(KIND_NAMES)
    assert st["schema_version"] == CURRENT_VERSION


async def test_edition_matches_the_server_setting(make_config, test_databases):
    conn = await asyncpg.connect(test_databases["timescaledb"])
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        license_ = await conn.fetchval("SELECT current_setting('timescaledb.license')")
    finally:
        await conn.close()
    async with open_storage(make_config("timescaledb")) as s:
        st = _backend_stats(await s.stats())
    assert st["edition"] == ("timescale" if license_ == "timescale" else "apache")
    if st["edition"] == "timescale":
        assert {j["proc_name"] for j in st["jobs"]} >= {"policy_compression", "policy_retention"}
    else:
        assert st["jobs"] == []
    assert st["rollups"]["relation"] == "storage_rollups"
    assert not any(j.get("proc_name") == "policy_refresh_continuous_aggregate" for j in st.get("jobs", []))


async def test_plain_postgresql_mode_when_allowed(make_config):
    async with open_storage(make_config("postgresql")) as s:
        st = _backend_stats(await s.stats())
    assert st["mode"] == "postgresql"
    assert "hypertables" not in st
    assert "CREATE EXTENSION" in st["timescaledb_unavailable"] or "not installed" in st["timescaledb_unavailable"]


async def test_refuses_without_the_extension_unless_allowed(make_config, test_databases, fresh_schema):
    config = make_config("postgresql", require_timescale=True)
    with pytest.raises(StorageError) as err:
        async with open_storage(config):
            pass
    message = str(err.value)
    assert "timescaledb extension cannot be used" in message
    assert "require_timescale: false" in message
    assert PLAIN_ROLE in message  # names the server (user@host:port/db)
    conn = await asyncpg.connect(test_databases["timescaledb"].rsplit("/", 1)[0] + "/gdpo_test_plain")
    try:
        assert not await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = $1", fresh_schema), \
            "a refused open must create nothing"
    finally:
        await conn.close()


@pytest.mark.parametrize("mode", ["timescaledb", "postgresql"])
async def test_two_processes_starting_together_migrate_once(make_config, mode):
    config = make_config(mode)

    async def open_and_close():
        async with open_storage(config) as s:
            return _backend_stats(await s.stats())["schema_version"]

    versions = await asyncio.gather(*(open_and_close() for _ in range(4)))
    assert versions == [CURRENT_VERSION] * 4
    backend_options = config["timescaledb"]
    async with open_storage(config) as s:
        backend = s.backends["timescaledb"]
        rows = await backend.connections.run("test", lambda c: c.fetch(
            f'SELECT version, count(*) AS n FROM "{backend_options["schema"]}".gdpo_schema_migrations GROUP BY 1'))
    assert {r["version"]: r["n"] for r in rows} == {v: 1 for v in range(1, CURRENT_VERSION + 1)}


async def test_newer_schema_is_refused(make_config):
    config = make_config("timescaledb")
    async with open_storage(config) as s:
        schema = config["timescaledb"]["schema"]
        await s.backends["timescaledb"].connections.run("test", lambda c: c.execute(
            f'INSERT INTO "{schema}".gdpo_schema_migrations (version, name) VALUES (999, $1)', "from the future"))
    with pytest.raises(StorageError, match="newer than this gdpo"):
        async with open_storage(config):
            pass


async def test_bad_schema_name_is_rejected_before_connecting(make_config):
    with pytest.raises(StorageError, match="not an accepted identifier"):
        async with open_storage(make_config("timescaledb", schema='x"; DROP TABLE y; --')):
            pass


async def test_changed_chunk_interval_applies_on_reopen(make_config):
    async with open_storage(make_config("timescaledb", chunk_interval="1 day")):
        pass
    async with open_storage(make_config("timescaledb", chunk_interval="2 days")) as s:
        st = _backend_stats(await s.stats())
    assert st["hypertables"]["energy_data"]["chunk_interval"] == "2 days"
    assert st["hypertables"]["system_state"]["chunk_interval"] == "2 days"
