"""A small TTL cache for hot reads (the current reading, the latest price).

Entries are tagged with the record kinds they depend on; a write (or a delete) of a kind
invalidates every entry tagged with it. Hits and misses are counted in the storage
:class:`~gdpo.storage.counters.Counters`. ``ttl_s = 0`` turns caching off.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Hashable, Iterable

from gdpo.storage.counters import Counters

#: Kinds whose ``Storage.latest()`` answer is cached: the current reading and the latest price.
CACHED_LATEST_KINDS = ("energy_data", "price_forecasts")


class TTLCache:
    """Values by key, each valid for ``ttl_s`` seconds or until a tagged kind is written."""

    def __init__(self, ttl_s: float, counters: Counters | None = None, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = float(ttl_s)
        self.counters = counters or Counters()
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any, frozenset[str]]] = {}
        self._generation: dict[str, int] = {}

    def get(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, value)`` for a fresh entry, else ``(False, None)``; counts the hit or miss."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            self.counters.add("cache_hits")
            return True, entry[1]
        if entry is not None:
            del self._entries[key]
        self.counters.add("cache_misses")
        return False, None

    def put(self, key: Hashable, value: Any, kinds: Iterable[str] = ()) -> None:
        """Store ``value`` under ``key`` for ``ttl_s`` seconds, dependent on ``kinds``."""
        if self.ttl_s <= 0:
            return
        self._entries[key] = (self._clock() + self.ttl_s, value, frozenset(kinds))

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[Any]], kinds: Iterable[str] = ()) -> Any:
        """The cached value of ``key``, or ``await load()`` (cached unless a write of one of
        ``kinds`` happened while it loaded)."""
        hit, value = self.get(key)
        if hit:
            return value
        kinds = tuple(kinds)
        before = tuple(self._generation.get(k, 0) for k in kinds)
        value = await load()
        if tuple(self._generation.get(k, 0) for k in kinds) == before:
            self.put(key, value, kinds)
        return value

    def invalidate(self, kind: str) -> None:
        """Forget every entry that depends on ``kind``."""
        self._generation[kind] = self._generation.get(kind, 0) + 1
        if self._entries:
            for key in [k for k, e in self._entries.items() if kind in e[2]]:
                del self._entries[key]

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["CACHED_LATEST_KINDS", "TTLCache"]
