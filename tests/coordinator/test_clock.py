"""The simulated clock and the quarter-hour alignment of the decision timer."""

from __future__ import annotations

import datetime as _dt
import time

from gdpo.coordinator.clock import SimulatedClock
from gdpo.coordinator.master import _aligned_after, _next_after

UTC = _dt.timezone.utc
T0 = _dt.datetime(2026, 3, 10, 10, 7, 30, tzinfo=UTC)


def test_aligned_after_is_the_next_quarter():
    q = _dt.timedelta(minutes=15)
    assert _aligned_after(T0, q) == T0.replace(minute=15, second=0)
    assert _aligned_after(T0.replace(minute=15, second=0), q) == T0.replace(minute=30, second=0)
    assert _aligned_after(T0.replace(minute=59), q) == T0.replace(hour=11, minute=0, second=0)


def test_next_after_catches_up_a_little_and_skips_a_lot():
    m = _dt.timedelta(minutes=1)
    assert _next_after(T0, m, T0 + 3 * m) == T0 + m          # a busy moment: every minute still happens
    assert _next_after(T0, m, T0 + 30 * m) > T0 + 30 * m     # far behind: skip to the present


async def test_simulated_clock_runs_fast():
    clock = SimulatedClock(T0, speed=3600)
    start = time.monotonic()
    await clock.sleep_until(T0 + _dt.timedelta(minutes=30))  # 0.5 s of real time
    assert 0.4 < time.monotonic() - start < 2.0
    assert clock.now() >= T0 + _dt.timedelta(minutes=30)


def test_simulated_clock_can_follow_another_clock():
    clock = SimulatedClock(speed=60, now_fn=lambda: T0)
    assert clock.now() == T0 and clock.real_seconds(60) == 1.0
