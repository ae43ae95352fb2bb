"""A hybrid coordinator run (SQLite sessions, TimescaleDB time series) with the real server
stopped for 2 real minutes: the coordinator keeps its minute cadence (event-loop lag <= 2 s,
a reading every simulated minute), the backend is touched only by the breaker's probes (a
listener on the server's port counts connection attempts while it is down), and after the
restart every record it was told was accepted is stored exactly once (0 lost, 0 duplicated),
counted per kind.

The run is simulated at 60x (one coordinator minute per real second: a stall of a second
would show as a missing minute) against the built-in inverter simulator (the real ``goodwe``
library over loopback); PSE is never contacted.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as _dt
import time
import uuid
from typing import Any, Mapping
from urllib.parse import urlsplit

import pytest
import yaml

from gdpo.commands.run import RunOptions, run_coordinator
from gdpo.config import load_config
from gdpo.storage import open_storage
from gdpo.storage.aggregate import normalize_bound
from gdpo.storage.facade import Storage
from gdpo.storage.records import KIND_NAMES, UTC, Record, make_records

from .test_outage import controllable  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.timescaledb, pytest.mark.slow]

SPEED = 60.0
BEFORE_S, OUTAGE_S, AFTER_S = 25.0, 120.0, 45.0
NO_PSE = {"pse_base_url": "http://127.0.0.1:9/api", "retries": 0, "timeout_s": 1.0}


def _start() -> _dt.datetime:
    n = uuid.uuid4().int
    return _dt.datetime(2001 + n % 24, 2, 2 + n // 24 % 25, 21, 0, tzinfo=UTC)


@pytest.fixture
def produced(monkeypatch):
    """Natural keys of every record ``Storage.write`` accepted (it returned), per kind."""
    keys: dict[str, set] = collections.defaultdict(set)
    original = Storage.write

    async def counting(self, kind, records):
        if isinstance(records, (Mapping, Record)):
            records = [records]
        batch = make_records(kind, records)
        result = await original(self, kind, batch)
        keys[kind].update(r.key for r in batch)
        return result

    monkeypatch.setattr(Storage, "write", counting)
    return keys


async def test_a_two_minute_outage_keeps_the_cadence_and_stores_every_record_once(
        controllable, make_config, produced, tmp_path):  # noqa: F811
    server = controllable
    ts = make_config("timescaledb", connect_timeout_s=3)["timescaledb"]
    data_storage = {"backend": "hybrid", "hybrid": {"sessions": "sqlite", "timeseries": "timescaledb"},
                    "sqlite": {"path": str(tmp_path / "data" / "gdpo.db")}, "timescaledb": ts,
                    "spool": {"retry_max_s": 10}}
    path = tmp_path / "gdpo.yaml"
    path.write_text(yaml.safe_dump({"data_storage": data_storage, "prices": NO_PSE,
                                    "coordinator": {"strategy": "rules"}}))
    cfg = load_config(path, env={})
    total_s = BEFORE_S + OUTAGE_S + AFTER_S
    start = _start()
    lags: list[float] = []
    done = asyncio.Event()
    outage: dict[str, Any] = {}

    async def measure_lag():
        while not done.is_set():
            t0 = time.monotonic()
            await asyncio.sleep(0.1)
            lags.append(time.monotonic() - t0 - 0.1)

    port = urlsplit(ts["dsn"]).port
    touches = [0]

    async def refuse(reader, writer):  # what reaches the server's port while it is down
        touches[0] += 1
        writer.close()

    async def stop_and_start():
        await asyncio.sleep(BEFORE_S)
        t0 = time.monotonic()
        await asyncio.to_thread(server.stop)
        listener = await asyncio.start_server(refuse, "127.0.0.1", port)
        try:
            await asyncio.sleep(OUTAGE_S)
        finally:
            listener.close()
            await listener.wait_closed()
            await asyncio.to_thread(server.start)
        outage["down_s"] = time.monotonic() - t0

    async def run():
        try:
            return await run_coordinator(cfg, RunOptions(simulate=True, speed=SPEED, start=start,
                                                         duration=_dt.timedelta(seconds=total_s * SPEED)),
                                         echo=lines.append)
        finally:
            done.set()

    lines: list[str] = []
    lag_task = asyncio.create_task(measure_lag())
    outage_task = asyncio.create_task(stop_and_start())
    try:
        summary = await run()
    finally:
        await asyncio.gather(outage_task, return_exceptions=True)
        if not outage_task.done() or outage_task.exception() is not None:
            await asyncio.to_thread(server.start)
        await lag_task
    assert outage["down_s"] >= OUTAGE_S

    far_past, far_future = _dt.datetime(1990, 1, 1, tzinfo=UTC), _dt.datetime(2100, 1, 1, tzinfo=UTC)
    stored: dict[str, list] = {}
    async with open_storage(cfg, background=False) as s:
        for kind in KIND_NAMES:
            lo, hi = normalize_bound(kind, far_past), normalize_bound(kind, far_future)
            stored[kind] = [r.key for r in await s.backend_for(kind).read_range(kind, lo, hi)]
        spool_left = {name: lane.spool.describe()["segments"] for name, lane in s.pipeline.lanes.items()}
        quarantined = {name: lane.describe()["quarantine"]["batches"] for name, lane in s.pipeline.lanes.items()}

    # the minute cadence: no lag of the event loop, a reading every simulated minute
    assert max(lags) <= 2.0, f"event loop lag {max(lags):.2f} s"
    readings = sorted(k[0] for k in produced["energy_data"])
    run_readings = [t for t in readings if start <= t <= summary.end]
    gaps = [(b - a).total_seconds() for a, b in zip(run_readings, run_readings[1:])]
    assert len(run_readings) >= total_s * SPEED / 60 * 0.95, (len(run_readings), total_s)
    # a 2 s lag at 60x is 120 simulated seconds: a gap of at most one minute plus that
    worst = max(range(len(gaps)), key=gaps.__getitem__)
    at_real_s = (run_readings[worst] - start).total_seconds() / SPEED
    assert max(gaps) <= 60 + 2.0 * SPEED, (f"largest gap between readings {max(gaps)} s (simulated), "
                                           f"{at_real_s:.1f} s into the run (stop at {BEFORE_S} s, "
                                           f"restart at {BEFORE_S + OUTAGE_S} s)")

    # while it was down only the breaker's probes touched it (backoff 1 s doubling to 10 s here:
    # about 15 probes in 2 minutes, each maybe two connection attempts); not every read and write
    assert 1 <= touches[0] <= 60, f"{touches[0]} connection attempts during the outage"

    # every accepted record exactly once, per kind
    assert spool_left == {"sqlite": 0, "timescaledb": 0}, "the spool was replayed by the running process"
    assert quarantined == {"sqlite": 0, "timescaledb": 0}
    report = {}
    for kind in KIND_NAMES:
        want, got = produced.get(kind, set()), stored[kind]
        report[kind] = (len(want), len(got))
        assert len(got) == len(set(got)), f"{kind}: duplicated rows"
        assert set(got) >= want, f"{kind}: {len(want - set(got))} lost of {len(want)}"
        assert set(got) == want, f"{kind}: {len(set(got) - want)} rows nobody wrote"
    assert sum(len(v) for v in produced.values()) > 0
    print(f"\nhybrid outage: down {outage['down_s']:.0f} s of {total_s:.0f} s, {touches[0]} connection attempts "
          f"while down, max loop lag {max(lags):.3f} s, "
          f"largest reading gap {max(gaps):.0f} s simulated at {at_real_s:.1f} s into the run; produced/stored per kind {report}")
