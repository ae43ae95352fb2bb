"""Metrics of the batches this process writes: latency and size per backend and kind.

:class:`WriteMetrics` is a write observer of the storage pipeline
(``storage.pipeline.write_observers``): the pipeline calls it after every batch a backend
committed, direct or replayed from the spool. It also remembers when each kind was last
written successfully, for ``gdpo_last_write_age_seconds``.
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Callable

from prometheus_client import CollectorRegistry, Histogram

#: Seconds: from a millisecond (SQLite on an SSD) to ten seconds (a server far away, a Pi's SD card).
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Records per batch: single writes, the pipeline's batches (10 to 50), a day of prices, a migration.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


class WriteMetrics:
    """The write histograms of one registry, fed by the pipeline's observer hook."""

    def __init__(self, registry: CollectorRegistry, now: Callable[[], _dt.datetime]):
        self._now = now
        self._lock = threading.Lock()
        self.last_ok: dict[str, _dt.datetime] = {}
        self.latency = Histogram(
            "gdpo_storage_write_duration_seconds",
            "Seconds a backend took to commit one batch (one transaction), by backend and record kind.",
            ("backend", "kind"), registry=registry, buckets=LATENCY_BUCKETS_S)
        self.batch = Histogram(
            "gdpo_storage_batch_records",
            "Records per batch committed to a backend, by backend and record kind.",
            ("backend", "kind"), registry=registry, buckets=BATCH_BUCKETS)

    def __call__(self, backend: str, kind: str, records: int, seconds: float) -> None:
        """The pipeline's observer: one committed batch."""
        self.latency.labels(backend, kind).observe(seconds)
        self.batch.labels(backend, kind).observe(records)
        with self._lock:
            self.last_ok[kind] = self._now()

    def attach(self, storage) -> None:
        """Be told of every batch ``storage`` commits from now on."""
        if self not in storage.pipeline.write_observers:
            storage.pipeline.write_observers.append(self)

    def detach(self, storage) -> None:
        """Stop observing ``storage``."""
        if self in storage.pipeline.write_observers:
            storage.pipeline.write_observers.remove(self)

    def last_writes(self) -> dict[str, _dt.datetime]:
        """When each kind was last committed by this process."""
        with self._lock:
            return dict(self.last_ok)
