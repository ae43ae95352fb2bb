"""A circuit breaker per backend: an outage fails fast instead of waiting a timeout per call.

States: *closed* (the backend is used), *open* (it failed with a connection-class error: no
call touches it until the backoff has passed) and *half-open* (the backoff has passed: one
probe may try it). A connection-class failure opens the breaker (or, in half-open, opens it
again with the backoff doubled: ``initial_s`` doubling up to ``max_s``); any success closes
it. Only connection-class errors count (:func:`is_connection_error`): a constraint
violation, bad data or a bug says nothing about whether the backend is up.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from typing import Any, Callable

from gdpo.storage.errors import StorageConnectionError
from gdpo.storage.records import UTC

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


def is_connection_error(exc: BaseException) -> bool:
    """True for errors that say the backend cannot be reached (the server is down, the file
    is unreachable, a timeout), False for errors about the records or the code."""
    from gdpo.storage.spool import SpoolError

    if isinstance(exc, SpoolError):
        return False
    return isinstance(exc, (StorageConnectionError, ConnectionError, TimeoutError, asyncio.TimeoutError, OSError))


class BackendDownError(StorageConnectionError):
    """Raised at once while a backend's breaker is open: names the backend, since when it is
    down, when the next try is due and the error that opened the breaker."""


class Breaker:
    """The breaker of one backend (see the module docstring)."""

    def __init__(self, name: str, *, initial_s: float = 1.0, max_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self.name = name
        self.initial_s, self.max_s = float(initial_s), float(max(max_s, initial_s))
        self._clock, self._wall = clock, wall
        self.state = CLOSED
        self.delay_s = 0.0
        self.next_try_at = 0.0  # monotonic
        self.down_since: float | None = None  # wall clock
        self.last_error: str | None = None
        self.opened_count = 0
        self.probes = 0

    @property
    def is_closed(self) -> bool:
        """True while the backend is used normally."""
        return self.state == CLOSED

    def retry_in_s(self) -> float:
        """Seconds until a probe is due (0 when closed or due)."""
        return 0.0 if self.state == CLOSED else max(0.0, self.next_try_at - self._clock())

    def allow(self, *, force: bool = False) -> bool:
        """May a call use the backend now? Closed: yes. Open and the backoff has passed (or
        ``force``: a last try at shutdown): yes, once (the breaker turns half-open: this
        call is the probe). Otherwise no."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and (force or self._clock() >= self.next_try_at):
            self.state = HALF_OPEN
            self.probes += 1
            return True
        return False

    def success(self) -> bool:
        """A call succeeded: close the breaker. True when it was not closed before."""
        was_closed = self.state == CLOSED
        self.state, self.delay_s, self.down_since = CLOSED, 0.0, None
        return not was_closed

    def failure(self, error: str) -> None:
        """A connection-class failure: open the breaker; a failed probe (half-open) opens it
        again with the backoff doubled; while open, only the error is noted."""
        self.last_error = error
        if self.state == OPEN:
            return  # a call that started before the breaker opened: the schedule stands
        if self.state == CLOSED:
            self.delay_s = self.initial_s
            self.down_since = self._wall()
            self.opened_count += 1
        else:  # the probe failed
            self.delay_s = min(self.max_s, max(self.initial_s, self.delay_s * 2))
        self.state = OPEN
        self.next_try_at = self._clock() + self.delay_s

    def release_probe(self) -> None:
        """A probe ended without an answer either way (cancelled): back to open, due at once."""
        if self.state == HALF_OPEN:
            self.state = OPEN

    def down_error(self) -> BackendDownError:
        """The error a call gets at once while the breaker is open."""
        since = _dt.datetime.fromtimestamp(self.down_since or self._wall(), UTC).isoformat(timespec="seconds")
        return BackendDownError(f"backend {self.name} is down (since {since}, next try in "
                                f"{self.retry_in_s():.1f} s): {self.last_error}")

    def describe(self) -> dict[str, Any]:
        """State for the status file and ``gdpo db status``."""
        since = self.down_since
        return {"state": self.state, "down_since": _dt.datetime.fromtimestamp(since, UTC).isoformat()
                if since is not None else None, "next_try_in_s": round(self.retry_in_s(), 1),
                "backoff_s": self.delay_s, "opened": self.opened_count, "last_error": self.last_error}


__all__ = ["BackendDownError", "Breaker", "CLOSED", "HALF_OPEN", "OPEN", "is_connection_error"]
