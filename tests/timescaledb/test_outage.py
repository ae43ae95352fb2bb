"""Connection loss: the real server is stopped and started again during a write loop.

While it is down the backend's breaker is open: the first failing call names the driver's
error, every later one fails at once (no connect timeout per call) with ``BackendDownError``
naming the server; once the server is back the breaker's probe closes it."""

import asyncio
import datetime as dt
import os
import time

import pytest

from gdpo.storage import UTC, StorageConnectionError, open_storage
from gdpo.storage.breaker import BackendDownError
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


async def wait_until_closed(storage, name="timescaledb", timeout_s=10.0):
    """Wait for the breaker's probe to find the restarted server (backoff 1 s, doubling)."""
    breaker = storage.pipeline.lanes[name].breaker
    deadline = time.monotonic() + timeout_s
    while not breaker.is_closed and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert breaker.is_closed, breaker.describe()


@pytest.mark.parametrize("mode", ["timescaledb", "postgresql"])
async def test_writes_fail_typed_during_an_outage_and_recover_after(controllable, make_config, mode):
    series = energy_series(dt.datetime(2025, 6, 1, tzinfo=UTC), 400)
    batches = [series[i:i + 10] for i in range(0, len(series), 10)]
    stored: list = []
    failures: list[StorageConnectionError] = []
    seconds: list[float] = []
    async with open_storage(make_config(mode, pool={"min": 2, "max": 4}, connect_timeout_s=3)) as s:
        server_name = s.backends["timescaledb"].connections.server

        async def write(batch):
            t0 = time.perf_counter()
            try:
                await s.write("energy_data", batch)
                stored.extend(batch)
            except StorageConnectionError as exc:
                failures.append(exc)
                seconds.append(time.perf_counter() - t0)

        for batch in batches[:10]:
            await write(batch)
        await asyncio.to_thread(controllable.stop)
        try:
            for batch in batches[10:20]:  # the server is down: each write fails, typed and named
                await write(batch)
            health = await s.health()
        finally:
            await asyncio.to_thread(controllable.start)
        await wait_until_closed(s)
        for batch in batches[20:]:  # same Storage, no reopen: the pool reconnects
            await write(batch)
        rows = await s.read("energy_data", series[0].ts, series[-1].ts + dt.timedelta(minutes=1))

    assert len(failures) == 10, [str(f) for f in failures]
    for exc in failures:
        assert server_name in str(exc) and "server unreachable" in str(exc)
    assert all(isinstance(exc, BackendDownError) and "backend timescaledb is down (since" in str(exc)
               for exc in failures[1:]), "after the first failure the breaker is open"
    assert max(seconds[1:]) < 0.05, f"calls during the outage must fail at once, took {seconds}"
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
            with pytest.raises(BackendDownError):  # at once: the breaker is open
                await s.write("energy_data", series[50:])
        finally:
            await asyncio.to_thread(controllable.start)
        await wait_until_closed(s)
        await s.write("energy_data", series[50:])  # the caller's replay
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
        await wait_until_closed(s)
        await s.write("coordinator_decisions", decisions[1:])  # the replay after the outage
        assert dict(s.backends["timescaledb"].write_paths) == {"small": 2}
        rows = await s.read("coordinator_decisions", decisions[0].ts, decisions[-1].ts + dt.timedelta(seconds=1))
    assert [r.to_dict() for r in rows] == [r.to_dict() for r in decisions]
