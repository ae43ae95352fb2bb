"""Connection loss: the real server is stopped and started again during a write loop."""

import asyncio
import datetime as dt
import os

import pytest

from gdpo.storage import UTC, StorageConnectionError, open_storage
from gdpo.storage.testkit import energy_series, full_record

pytestmark = [pytest.mark.timescaledb, pytest.mark.slow]


@pytest.fixture
def controllable(tsdb_server):
    if not tsdb_server.controllable:
        reason = (f"cannot stop and start the server from {tsdb_server.origin} "
                  f"(use a container or scripts/dev/timescaledb-local.sh)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return tsdb_server


@pytest.mark.parametrize("mode", ["timescaledb", "postgresql"])
async def test_writes_fail_typed_during_an_outage_and_recover_after(controllable, make_config, mode):
    series = energy_series(dt.datetime(2025, 6, 1, tzinfo=UTC), 400)
    batches = [series[i:i + 10] for i in range(0, len(series), 10)]
    stored: list = []
    failures: list[StorageConnectionError] = []
    async with open_storage(make_config(mode, pool={"min": 2, "max": 4}, connect_timeout_s=3)) as s:
        server_name = s.backends["timescaledb"].connections.server

        async def write(batch):
            try:
                await s.write("energy_data", batch)
                stored.extend(batch)
            except StorageConnectionError as exc:
                failures.append(exc)

        for batch in batches[:10]:
            await write(batch)
        await asyncio.to_thread(controllable.stop)
        try:
            for batch in batches[10:20]:  # the server is down: each write fails, typed and named
                await write(batch)
            health = await s.health()
        finally:
            await asyncio.to_thread(controllable.start)
        for batch in batches[20:]:  # same Storage, no reopen: the pool reconnects
            await write(batch)
        rows = await s.read("energy_data", series[0].ts, series[-1].ts + dt.timedelta(minutes=1))

    assert len(failures) == 10, [str(f) for f in failures]
    for exc in failures:
        assert server_name in str(exc) and "server unreachable" in str(exc)
    assert not health[0].ok and server_name in health[0].detail
    assert len(stored) == 300, "every write after the restart must succeed"
    assert [r.ts for r in rows] == [r.ts for r in stored], "nothing written during the outage, nothing lost"


async def test_a_failed_batch_can_be_replayed_after_the_outage(controllable, make_config):
    series = energy_series(dt.datetime(2025, 6, 1, tzinfo=UTC), 100)
    async with open_storage(make_config("timescaledb")) as s:
        await s.write("energy_data", series[:50])
        await asyncio.to_thread(controllable.stop)
        try:
            with pytest.raises(StorageConnectionError):
                await s.write("energy_data", series[50:])
        finally:
            await asyncio.to_thread(controllable.start)
        await s.write("energy_data", series[50:])  # the spool's replay
        await s.write("energy_data", series[50:])  # and a second, duplicate replay
        assert len(await s.read("energy_data", series[0].ts, series[-1].ts + dt.timedelta(seconds=1))) == 100


async def test_a_single_record_write_fails_typed_when_the_server_goes_away(controllable, make_config):
    decisions = [full_record("coordinator_decisions", i) for i in range(3)]
    async with open_storage(make_config("timescaledb", connect_timeout_s=3)) as s:
        await s.write("coordinator_decisions", decisions[:1])  # the pool's connections are open
        await asyncio.to_thread(controllable.stop)
        try:
            with pytest.raises(StorageConnectionError, match="server unreachable"):
                await s.write("coordinator_decisions", decisions[1:2])
        finally:
            await asyncio.to_thread(controllable.start)
        await s.write("coordinator_decisions", decisions[1:])  # the replay after the outage
        assert dict(s.backends["timescaledb"].write_paths) == {"small": 2}
        rows = await s.read("coordinator_decisions", decisions[0].ts, decisions[-1].ts + dt.timedelta(seconds=1))
    assert [r.to_dict() for r in rows] == [r.to_dict() for r in decisions]
