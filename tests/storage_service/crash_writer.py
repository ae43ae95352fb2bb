"""A writing process for the kill -9 test: ``python crash_writer.py CONFIG_JSON ACK_FILE RUN [sigterm]``.

With ``sigterm`` it writes three records (left in the pipeline's buffer), writes ``ready``
to ACK_FILE and waits to be terminated (the SIGTERM test).

It writes one ``energy_data`` record per iteration (buffered by the pipeline), a
``charging_sessions`` record every 5th (written through) and calls ``flush()`` every 10th;
after each completed flush it appends the last acknowledged index to ACK_FILE (fsync'd).
The test kills it with SIGKILL at a random moment.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
import sys

from gdpo.storage import open_storage
from gdpo.storage.records import UTC

BASE = _dt.datetime(2025, 1, 1, tzinfo=UTC)


def record_ts(run: int, i: int) -> _dt.datetime:
    """The timestamp of record ``i`` of run ``run`` (runs never overlap)."""
    return BASE + _dt.timedelta(days=run, seconds=i)


async def wait_for_sigterm(storage, ack: int) -> None:
    """Buffer three records, say so, and wait (SIGTERM must flush them)."""
    for i in range(3):
        await storage.write("energy_data", {"ts": record_ts(0, i), "pv_power_w": float(i)})
    os.write(ack, b"ready\n")
    os.fsync(ack)
    await asyncio.sleep(3600)


async def main(config_path: str, ack_path: str, run: int, mode: str = "loop") -> None:
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    ack = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    async with open_storage(config) as storage:
        if mode == "sigterm":
            await wait_for_sigterm(storage, ack)
        i = 0
        while True:
            ts = record_ts(run, i)
            await storage.write("energy_data", {"ts": ts, "pv_power_w": float(i), "battery_soc_pct": 50.0,
                                                "grid_import_total_kwh": 1000 + i / 1000})
            if i % 5 == 0:
                await storage.write("charging_sessions", {"session_id": f"run{run}-{i}", "start_ts": ts,
                                                          "status": "active", "payload": {"i": i}})
            if i % 10 == 9:
                await storage.flush()
                os.write(ack, f"{i}\n".encode())
                os.fsync(ack)
            i += 1
            if i % 50 == 0:
                await asyncio.sleep(0)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3], int(sys.argv[3]), *sys.argv[4:5]))
