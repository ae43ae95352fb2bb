"""Helpers of the inverter tests: simulated GoodWe ET inverters on loopback.

UDP simulators bind port 8899 on their own 127.x.y.z address (all of 127/8 is loopback on
Linux), so tests never share one; TCP simulators take an ephemeral port.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

from gdpo.inverter.simulator import PlantConfig, SimulatedInverter, SimulatorConfig

UTC = dt.timezone.utc
NIGHT = dt.datetime(2026, 1, 14, 1, 0, tzinfo=UTC)        # no PV: battery and grid only
SUMMER_NOON = dt.datetime(2026, 6, 21, 10, 30, tzinfo=UTC)  # 12:30 in Warsaw
WINTER_NOON = dt.datetime(2026, 12, 21, 10, 30, tzinfo=UTC)

_second_octet = 100 + os.getpid() % 100
_addresses = itertools.count(2)

FAST = {"timeout": 0.25, "retries": 2}


def next_udp_host() -> str:
    """A loopback address no other test of this run uses."""
    n = next(_addresses)
    return f"127.{_second_octet}.{n // 250}.{n % 250 + 2}"


def make_device(*, start=NIGHT, speed=0.0, seed=7, **plant) -> SimulatedInverter:
    """A simulated inverter (not yet listening). With speed 0 simulated time moves only by
    ``advance()``, so a seed gives exactly the same run every time."""
    return SimulatedInverter(SimulatorConfig(plant=PlantConfig(**plant), speed=speed, seed=seed, start=start))


async def wait_until(condition, timeout_s: float = 10.0, step_s: float = 0.01) -> None:
    """Poll ``condition()`` until true; fail after ``timeout_s`` (generous: the machine may be busy)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(step_s)
