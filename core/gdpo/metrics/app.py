"""``metrics_app(storage, *, coordinator=None)``: the ``/metrics`` ASGI app (Prometheus text).

Each app has a :class:`~prometheus_client.CollectorRegistry` of its own (never the global
one). A scrape first awaits a storage snapshot (async reads, bounded; see
``gdpo.metrics.snapshot``), then prometheus_client renders the registry (CPU only: the
collectors format what was read). Scrapes are serialised; one arriving within
``min_interval_s`` of the last read reuses it.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import time
from typing import Any, Callable

from prometheus_client import CollectorRegistry, make_asgi_app

from gdpo.metrics.coordinator_collector import CoordinatorCollector
from gdpo.metrics.snapshot import StorageSnapshot, read_snapshot
from gdpo.metrics.storage_collector import StorageCollector
from gdpo.metrics.writes import WriteMetrics

UTC = _dt.timezone.utc


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(UTC)


class MetricsApp:
    """The ASGI app; ``registry`` holds its metrics, ``writes`` observes the storage's batches."""

    def __init__(self, storage, *, coordinator=None, now: Callable[[], _dt.datetime] | None = None,
                 timeout_s: float = 5.0, min_interval_s: float = 1.0):
        self.storage = storage
        self.coordinator = coordinator
        self.now = now or (coordinator.clock.now if coordinator is not None else _utc_now)
        self.timeout_s = timeout_s
        self.min_interval_s = min_interval_s
        self.registry = CollectorRegistry(auto_describe=False)
        self.writes = WriteMetrics(self.registry, self.now)
        self.writes.attach(storage)
        self.registry.register(StorageCollector(storage, lambda: self.snapshot, self.writes.last_writes))
        if coordinator is not None:
            self.registry.register(CoordinatorCollector(coordinator))
        self.snapshot: StorageSnapshot | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        self._render = make_asgi_app(self.registry)

    async def refresh(self) -> StorageSnapshot:
        """Read a new storage snapshot (or reuse one younger than ``min_interval_s``)."""
        async with self._lock:
            if self._read_at is None or time.monotonic() - self._read_at >= self.min_interval_s \
                    or self.snapshot is None:
                self.snapshot = await read_snapshot(self.storage, self.now(), timeout_s=self.timeout_s)
                self._read_at = time.monotonic()
            return self.snapshot

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope.get("method", "GET") not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        await self.refresh()
        await self._render(scope, receive, send)

    def close(self) -> None:
        """Stop observing the storage's writes."""
        self.writes.detach(self.storage)


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _plain(send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *headers]})
    await send({"type": "http.response.body", "body": body})


def metrics_app(storage, *, coordinator=None, **options) -> MetricsApp:
    """The ``/metrics`` ASGI app of an open Storage; with ``coordinator`` (the running
    MasterCoordinator) it also exports the coordinator's live metrics. ``options``:
    ``now`` (clock), ``timeout_s`` (per storage read), ``min_interval_s`` (snapshot reuse)."""
    return MetricsApp(storage, coordinator=coordinator, **options)
