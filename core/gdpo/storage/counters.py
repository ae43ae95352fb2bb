"""Counters of the storage service: what the pipeline, the spool and the cache did.

One :class:`Counters` per :class:`~gdpo.storage.Storage`; ``storage.counters`` exposes it,
``Storage.stats()`` includes a snapshot, and a running process publishes it in its status
file (see ``gdpo.storage.status``) so that ``gdpo db status`` can show it.
"""

from __future__ import annotations

import threading
from typing import Any

COUNTER_NAMES = (
    "writes",        # records accepted by Storage.write
    "batches",       # batches written to a backend (direct writes and pipeline flushes)
    "retries",       # replay attempts of a spool that failed (the backend was still down)
    "spooled",       # records written to an outage spool
    "replayed",      # records replayed from a spool into their backend
    "dropped",       # raw records dropped from a full spool (never sessions, decisions, states)
    "quarantined",   # records of batches refused for a reason other than an outage (quarantine file)
    "failed",        # buffered records lost because they could be neither written nor spooled
    "cache_hits",
    "cache_misses",
)


class Counters:
    """Monotonic counters, safe to bump from the event loop and from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(COUNTER_NAMES, 0)

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        with self._lock:
            self._values[name] += n

    def __getitem__(self, name: str) -> int:
        return self._values[name]

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def snapshot(self) -> dict[str, Any]:
        """A copy of every counter."""
        with self._lock:
            return dict(self._values)

    def __repr__(self) -> str:
        return f"Counters({self.snapshot()})"
