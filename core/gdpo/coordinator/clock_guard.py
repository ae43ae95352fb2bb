"""A sane wall clock before anything is stamped with it.

A Raspberry Pi has no clock battery: until NTP answers it boots at a wrong time, often 1970
or the time of the last shutdown (``fake-hwclock``). Readings and decisions stamped with
such a time would land in the past, before what is already stored, and shadow or mix with
real history. The guard refuses a time that is

* before :data:`RELEASE_DATE` (this version cannot run before it was released), or
* more than ``tolerance_s`` before the newest stored reading, decision or heartbeat,

and the coordinator waits for a sane clock (logging once), storing nothing meanwhile. Only
the real clock is guarded: a simulated clock (``gdpo run --simulate --start``) is chosen on
purpose.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from typing import Any, Callable

from gdpo.storage.records import UTC

log = logging.getLogger(__name__)

#: No clock reading before this instant is believed (the day this version was released).
RELEASE_DATE = _dt.datetime(2026, 12, 1, tzinfo=UTC)

#: The kinds whose newest record the clock must not fall behind.
STAMPED_KINDS = ("energy_data", "coordinator_decisions", "system_state")


class ClockGuard:
    """Knows the newest stored instant and says whether a clock reading can be believed."""

    def __init__(self, now: Callable[[], _dt.datetime], *, tolerance_s: float = 300.0,
                 release: _dt.datetime = RELEASE_DATE):
        self.now = now
        self.tolerance = _dt.timedelta(seconds=tolerance_s)
        self.release = release
        self.newest: _dt.datetime | None = None
        self.warned = False

    async def prime(self, storage: Any) -> _dt.datetime | None:
        """Read the newest stored instant of :data:`STAMPED_KINDS` (a kind that cannot be read is skipped)."""
        for kind in STAMPED_KINDS:
            try:
                latest = await storage.latest(kind)
            except Exception as exc:  # the database is down: judge by the release date alone
                log.debug("clock guard: cannot read the newest %s: %s", kind, exc)
                continue
            if latest is not None:
                self.seen(latest.time)
        return self.newest

    def seen(self, t: _dt.datetime) -> None:
        """Remember ``t`` as stored."""
        if self.newest is None or t > self.newest:
            self.newest = t

    def problem(self, t: _dt.datetime) -> str | None:
        """Why ``t`` cannot be the real time, or None when it can."""
        if t < self.release:
            return f"the clock reads {t.isoformat()}, before this version's release ({self.release.date()})"
        if self.newest is not None and t < self.newest - self.tolerance:
            return (f"the clock reads {t.isoformat()}, {(self.newest - t).total_seconds():.0f} s before the newest "
                    f"stored record ({self.newest.isoformat()})")
        return None

    def refuse(self, t: _dt.datetime) -> bool:
        """True (logging once until the clock is sane again) when ``t`` must not be stored."""
        why = self.problem(t)
        if why is None:
            if self.warned:
                log.warning("clock guard: the clock is sane again (%s); storing resumes", t.isoformat())
                self.warned = False
            return False
        if not self.warned:
            log.warning("clock guard: %s; nothing is stored until the clock is set (NTP)", why)
            self.warned = True
        return True

    async def wait_until_sane(self, poll_s: float = 5.0, stop: asyncio.Event | None = None) -> _dt.datetime:
        """Return the first sane clock reading, polling every ``poll_s`` real seconds (or at a stop)."""
        while True:
            t = self.now()
            if not self.refuse(t):
                return t
            if stop is not None and stop.is_set():
                return t
            await asyncio.sleep(poll_s)
