"""8 writers (4 processes and 4 tasks) and 8 readers on one database file for 30 s.

No "database is locked" may surface anywhere, and every record written is there afterwards.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import multiprocessing
import random
import time

import pytest

from gdpo.storage import open_storage
from gdpo.storage.records import UTC, EnergyData

DURATION_S = 30.0
START = _dt.datetime(2025, 6, 1, tzinfo=UTC)
FAR_PAST, FAR_FUTURE = _dt.datetime(1990, 1, 1, tzinfo=UTC), _dt.datetime(2100, 1, 1, tzinfo=UTC)


def _config(path) -> dict:
    return {"backend": "sqlite", "sqlite": {"path": str(path)}}


def _ts(writer: int, i: int) -> _dt.datetime:
    """Unique per writer: second ``writer`` of minute ``i``."""
    return START + _dt.timedelta(minutes=i, seconds=writer)


async def write_for(storage, writer: int, seconds: float) -> int:
    """Write batches of 1..50 records (and a heartbeat) until ``seconds`` pass; return how many."""
    rng = random.Random(writer)
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        size = rng.randint(1, 50)
        batch = [EnergyData(ts=_ts(writer, n + k), pv_power_w=float(writer), grid_power_w=float(n + k),
                            payload={"writer": writer}) for k in range(size)]
        await storage.write("energy_data", batch)
        n += size
        await storage.write("system_state", {"ts": _ts(writer, n), "state": "monitoring", "uptime_s": float(n)})
        await asyncio.sleep(rng.random() * 0.005)
    return n


def _writer_process(path, writer: int, seconds: float, result_file) -> None:
    async def go():
        async with open_storage(_config(path)) as storage:
            return await write_for(storage, writer, seconds)

    n = asyncio.run(go())
    with open(result_file, "w") as fh:
        json.dump({"writer": writer, "count": n}, fh)


@pytest.mark.slow
async def test_eight_writers_eight_readers_thirty_seconds(tmp_path):
    path = tmp_path / "busy" / "gdpo.db"
    async with open_storage(_config(path)):
        pass  # created and migrated before the crowd arrives
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for w in range(4):
        p = ctx.Process(target=_writer_process, args=(path, w, DURATION_S, tmp_path / f"writer{w}.json"))
        p.start()
        procs.append(p)
    errors: list[BaseException] = []
    reads = 0
    async with open_storage(_config(path)) as storage:
        stop = asyncio.Event()

        async def reader(r: int):
            nonlocal reads
            while not stop.is_set():
                try:
                    now = await storage.latest("energy_data")
                    if now is not None:
                        await storage.read("energy_data", now.ts - _dt.timedelta(hours=1), FAR_FUTURE)
                        if r % 4 == 0:
                            await storage.aggregate("energy_data", START, FAR_FUTURE, every="1h",
                                                    fields={"grid_power_w": ["avg", "last"]})
                    await storage.latest("system_state")
                    reads += 1
                except Exception as exc:  # any error fails the test below
                    errors.append(exc)
                await asyncio.sleep(0.001)

        readers = [asyncio.create_task(reader(r)) for r in range(8)]
        local = await asyncio.gather(*(write_for(storage, w, DURATION_S) for w in range(4, 8)))
        stop.set()
        await asyncio.gather(*readers)
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0] * 4, "a writer process failed"
        counts = dict(enumerate(local, start=4))
        for w in range(4):
            counts[w] = json.loads((tmp_path / f"writer{w}.json").read_text())["count"]
        assert not errors, f"{len(errors)} read errors, first: {errors[0]!r}"
        assert reads > 100
        stored = await storage.read("energy_data", FAR_PAST, FAR_FUTURE)
        assert len(stored) == sum(counts.values())
        by_writer: dict[int, set] = {}
        for r in stored:
            by_writer.setdefault(r.payload["writer"], set()).add(r.ts)
        for w, n in counts.items():
            assert by_writer.get(w) == {_ts(w, i) for i in range(n)}, f"writer {w} lost records"
        heartbeats = await storage.read("system_state", FAR_PAST, FAR_FUTURE)
        assert len(heartbeats) >= len(counts)
