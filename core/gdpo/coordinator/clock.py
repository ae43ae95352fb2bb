"""Clocks: real time, or a simulated clock (``--speed N``) shared by every timer.

A simulated clock runs ``speed`` times faster than real time from ``start``. ``gdpo run
--simulate`` hands the simulator's own clock (``now_fn``) to the coordinator, so the
inverter's physics and the coordinator's timers see one time.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from typing import Callable

from gdpo.storage.records import UTC


class Clock:
    """Wall-clock time (UTC) and sleeping measured in that time."""

    speed: float = 1.0

    def now(self) -> _dt.datetime:
        """The current time, aware UTC."""
        return _dt.datetime.now(UTC)

    async def sleep_until(self, when: _dt.datetime) -> None:
        """Sleep until this clock reads ``when`` (returns at once if it already does)."""
        while True:
            remaining = (when - self.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining / self.speed, 30.0))

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of this clock's time."""
        await self.sleep_until(self.now() + _dt.timedelta(seconds=seconds))

    def real_seconds(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of this clock take."""
        return seconds / self.speed


class RealClock(Clock):
    """Real time."""


class SimulatedClock(Clock):
    """``start`` plus real elapsed time times ``speed``; or the time of ``now_fn`` (a
    simulator's clock) when given."""

    def __init__(self, start: _dt.datetime | None = None, speed: float = 1.0,
                 now_fn: Callable[[], _dt.datetime] | None = None, monotonic: Callable[[], float] = time.monotonic):
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if start is not None and start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start")
        self.speed = float(speed)
        self._now_fn = now_fn
        self._start = (start or _dt.datetime.now(UTC)).astimezone(UTC)
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> _dt.datetime:
        """The simulated time."""
        if self._now_fn is not None:
            return self._now_fn()
        return self._start + _dt.timedelta(seconds=(self._monotonic() - self._t0) * self.speed)
