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


def make_device(*, start=NIGHT, speed=1.0, seed=7, **plant) -> SimulatedInverter:
    """A simulated inverter (not yet listening)."""
    return SimulatedInverter(SimulatorConfig(plant=PlantConfig(**plant), speed=speed, seed=seed, start=start))
