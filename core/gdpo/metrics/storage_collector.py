"""The storage metrics of a scrape: health, spools, counters, last writes, prices, decisions.

:class:`StorageCollector` formats the latest :class:`~gdpo.metrics.snapshot.StorageSnapshot`
and the storage's own counters (``gdpo.storage.counters``); it does no I/O (the metrics app
reads the snapshot before rendering).
"""

from __future__ import annotations

import datetime as _dt
from typing import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gdpo.metrics.horizon import utc_offset_seconds
from gdpo.metrics.snapshot import StorageSnapshot

#: Storage counters exported as ``gdpo_<name>_total``: (counter, metric name, help).
COUNTERS = (
    ("writes", "gdpo_storage_records_accepted", "Records accepted by storage.write in this process."),
    ("batches", "gdpo_storage_batches", "Batches committed to a backend in this process (direct and replayed)."),
    ("retries", "gdpo_storage_spool_retries", "Replay attempts of a spool that failed (its backend was still down)."),
    ("spooled", "gdpo_storage_spooled_records", "Records written to an outage spool."),
    ("replayed", "gdpo_storage_replayed_records", "Records replayed from a spool into their backend."),
    ("dropped", "gdpo_storage_dropped_records", "Raw records dropped from a full spool."),
    ("quarantined", "gdpo_storage_quarantined_records",
     "Records of batches a reachable backend refused, set aside in its quarantine file."),
    ("failed", "gdpo_storage_failed_records", "Records lost: neither written nor spooled."),
    ("cache_hits", "gdpo_cache_hits", "Reads answered by the storage TTL cache."),
    ("cache_misses", "gdpo_cache_misses", "Reads the storage TTL cache could not answer."),
)
STATES = ("starting", "monitoring", "charging", "selling", "degraded", "error", "stopped")


def _ts(t: _dt.datetime | _dt.date) -> float:
    if not isinstance(t, _dt.datetime):  # a date: its UTC midnight
        t = _dt.datetime(t.year, t.month, t.day, tzinfo=_dt.timezone.utc)
    return t.timestamp()


class StorageCollector:
    """Metrics of one Storage; ``live_writes`` gives this process's own last commit per kind."""

    def __init__(self, storage, snapshot: Callable[[], StorageSnapshot | None],
                 live_writes: Callable[[], dict[str, _dt.datetime]]):
        self.storage = storage
        self._snapshot = snapshot
        self._live_writes = live_writes

    def collect(self) -> Iterator[Metric]:
        """The metric families of the latest snapshot (called by the registry)."""
        counters = self.storage.counters.snapshot()
        for key, name, doc in COUNTERS:
            yield CounterMetricFamily(name, doc, value=counters.get(key, 0))
        buffered = GaugeMetricFamily("gdpo_storage_buffered_records",
                                     "Records waiting in memory for their batch, by kind.", labels=["kind"])
        for kind, n in sorted(self.storage.pipeline.buffered().items()):
            buffered.add_metric([kind], n)
        yield buffered
        snap = self._snapshot()
        if snap is None:
            return
        yield from self._health(snap)
        yield from self._spools(snap)
        yield from self._last_writes(snap)
        yield from self._prices(snap)
        yield from self._decisions(snap)
        offset = GaugeMetricFamily("gdpo_utc_offset_seconds",
                                   "Offset of local time (Europe/Warsaw) from UTC now: 3600 in winter, 7200 in summer.")
        offset.add_metric([], utc_offset_seconds(snap.now))
        yield offset
        errors = GaugeMetricFamily("gdpo_metrics_source_failed",
                                   "1 for each part of this scrape that could not be read from storage.",
                                   labels=["part"])
        for part in sorted(snap.errors):
            errors.add_metric([part], 1)
        yield errors

    def _health(self, snap: StorageSnapshot) -> Iterator[Metric]:
        ok = GaugeMetricFamily("gdpo_storage_health_ok",
                               "1 when gdpo health passes (every backend answers, no writer stalled, "
                               "no spool near its bound), else 0.")
        ok.add_metric([], 1 if snap.health_ok else 0)
        yield ok
        problems = GaugeMetricFamily("gdpo_storage_health_problems", "Problems the storage health check found.")
        problems.add_metric([], snap.problems)
        yield problems
        up = GaugeMetricFamily("gdpo_storage_backend_up", "1 when the backend answered a real round trip.",
                               labels=["backend"])
        latency = GaugeMetricFamily("gdpo_storage_backend_latency_seconds",
                                    "Seconds of the backend's health round trip.", labels=["backend"])
        for name, b in sorted(snap.backends.items()):
            up.add_metric([name], 1 if b["ok"] else 0)
            if b.get("latency_ms") is not None:
                latency.add_metric([name], b["latency_ms"] / 1000.0)
        yield up
        yield latency

    def _spools(self, snap: StorageSnapshot) -> Iterator[Metric]:
        families = {
            "bytes": GaugeMetricFamily("gdpo_spool_bytes", "Bytes waiting in the backend's outage spool.",
                                       labels=["backend"]),
            "segments": GaugeMetricFamily("gdpo_spool_segments", "Segment files in the backend's outage spool "
                                          "(its depth; 0 when nothing waits).", labels=["backend"]),
            "max_bytes": GaugeMetricFamily("gdpo_spool_max_bytes", "The spool's bound (spool.max_bytes).",
                                           labels=["backend"]),
            "rejected_bytes": GaugeMetricFamily("gdpo_spool_rejected_bytes",
                                                "Bytes of corrupt spool lines set aside in rejected.ndjson.",
                                                labels=["backend"]),
        }
        for name, sp in sorted(snap.spools.items()):
            for key, family in families.items():
                family.add_metric([name], sp.get(key) or 0)
        yield from families.values()

    def _last_writes(self, snap: StorageSnapshot) -> Iterator[Metric]:
        at = dict(snap.written_at)
        for kind, t in self._live_writes().items():
            if kind not in at or t > at[kind]:
                at[kind] = t
        stamp = GaugeMetricFamily("gdpo_last_write_timestamp_seconds",
                                  "Unix time of the newest successful write of the kind.", labels=["kind"])
        age = GaugeMetricFamily("gdpo_last_write_age_seconds",
                                "Seconds since the newest successful write of the kind.", labels=["kind"])
        now = snap.now.timestamp()
        for kind, t in sorted(at.items()):
            stamp.add_metric([kind], _ts(t))
            age.add_metric([kind], max(0.0, now - _ts(t)))
        yield stamp
        yield age
        state = GaugeMetricFamily("gdpo_system_state", "1 for the state of the newest stored system_state record.",
                                  labels=["state"])
        if snap.system_state is not None:
            for s in dict.fromkeys(STATES + (snap.system_state,)):
                state.add_metric([s], 1 if s == snap.system_state else 0)
        yield state

    def _prices(self, snap: StorageSnapshot) -> Iterator[Metric]:
        ahead = GaugeMetricFamily("gdpo_prices_known_ahead_hours",
                                  "Hours from now to the end of the unbroken run of stored prices, by source.",
                                  labels=["source"])
        tomorrow = GaugeMetricFamily("gdpo_prices_tomorrow_known",
                                     "1 when every quarter-hour of tomorrow (local day) has a stored price.",
                                     labels=["source"])
        for source, h in sorted(snap.prices.items()):
            ahead.add_metric([source], h.ahead_hours)
            tomorrow.add_metric([source], 1 if h.tomorrow_known else 0)
        yield ahead
        yield tomorrow

    def _decisions(self, snap: StorageSnapshot) -> Iterator[Metric]:
        family = GaugeMetricFamily("gdpo_decisions_24h", "Stored decisions of the last 24 hours, by type and action.",
                                   labels=["decision_type", "action"])
        for (dtype, action), n in sorted((snap.decisions_24h or {}).items()):
            family.add_metric([dtype, action], n)
        yield family
