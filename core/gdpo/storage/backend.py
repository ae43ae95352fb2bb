"""The backend protocol: what a storage backend implements, and what it declares it can do.

A backend is made by the factory its plugin registers (see ``hookspecs.py``) from the
options of its config section. The :class:`~gdpo.storage.facade.Storage` facade calls it;
components never do. Every method is a coroutine and must not block the event loop.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from gdpo.storage.records import KIND_NAMES, Record


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the conformance testkit skips what is declared absent.

    kinds: record kinds the backend stores.
    aggregate: ``aggregate()`` is implemented.
    delete: ``delete_older_than()`` is implemented.
    concurrent_writers: several tasks may write at once (writes are serialised safely).
    transactions: a batch is all-or-nothing.
    max_payload_bytes: the largest JSON payload a record may carry.
    persistent: data survives close() and a new open() of the same location.
    time_buckets: ``aggregate`` supports these bucket widths (see ``aggregate.parse_every``).
    rollups: the backend keeps the storage service's hourly and daily rollups itself: it
        implements the optional methods ``write_rollups``, ``read_rollups`` and
        ``rollup_bounds`` (see ``gdpo.storage.rollups.RollupStore``), so its rollups are part
        of its data (copied by ``gdpo migrate``, ``gdpo export`` and ``gdpo db recover``).
        Without it the service keeps them in a sidecar file of the data directory.
    """

    kinds: frozenset[str] = frozenset(KIND_NAMES)
    aggregate: bool = True
    delete: bool = True
    concurrent_writers: bool = True
    transactions: bool = True
    max_payload_bytes: int = 16 * 1024 * 1024
    persistent: bool = True
    time_buckets: frozenset[str] = frozenset({"m", "h", "d", "mo"})
    rollups: bool = False

    def intersect(self, other: "Capabilities") -> "Capabilities":
        """Capabilities of two backends used together (the weaker of each flag)."""
        return Capabilities(
            kinds=self.kinds | other.kinds,
            aggregate=self.aggregate and other.aggregate,
            delete=self.delete and other.delete,
            concurrent_writers=self.concurrent_writers and other.concurrent_writers,
            transactions=self.transactions and other.transactions,
            max_payload_bytes=min(self.max_payload_bytes, other.max_payload_bytes),
            persistent=self.persistent and other.persistent,
            time_buckets=self.time_buckets & other.time_buckets,
            rollups=self.rollups and other.rollups,
        )


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write: how many records were stored (inserted or updated).

    ``inserted`` is the number of keys that were new, or None where the backend cannot
    tell cheaply; ``count - inserted`` were already present and were updated in place.
    """

    kind: str
    count: int
    inserted: int | None = None

    def __add__(self, other: "WriteResult") -> "WriteResult":
        inserted = None if self.inserted is None or other.inserted is None else self.inserted + other.inserted
        return WriteResult(self.kind, self.count + other.count, inserted)


@dataclass(frozen=True)
class Health:
    """The result of a real round trip to the backend."""

    ok: bool
    backend: str
    detail: str = ""
    latency_ms: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AggregateSpec:
    """A validated aggregate request (see ``aggregate.make_spec``)."""

    kind: str
    start: Any
    end: Any
    every: str
    fields: tuple[tuple[str, str, str], ...]  # (output name, field, function)
    tz: str


@runtime_checkable
class StorageBackend(Protocol):
    """The async protocol every storage backend implements.

    ``open`` connects and brings the schema to the current version; ``close`` releases
    everything. ``write_batch`` stores all records of one batch in one transaction and is
    idempotent on each kind's natural key (UPSERT). Ranges are ``start <= t < end`` on the
    kind's time field, oldest first.
    """

    name: str
    capabilities: Capabilities

    async def open(self) -> None:
        """Connect, create or migrate the schema. Raise a StorageError naming the location."""

    async def close(self) -> None:
        """Release connections and files. Safe to call twice."""

    async def health(self) -> Health:
        """A real round trip to the database."""

    async def write_batch(self, kind: str, records: Sequence[Record]) -> WriteResult:
        """Store validated records of one kind in one transaction (UPSERT on the natural key)."""

    async def read_range(self, kind: str, start: Any, end: Any, *, limit: int | None = None,
                         descending: bool = False) -> list[Record]:
        """Records with ``start <= time < end``, oldest first (newest first if descending)."""

    async def latest(self, kind: str) -> Record | None:
        """The record with the greatest time value, or None."""

    async def aggregate(self, spec: AggregateSpec) -> list[dict[str, Any]]:
        """Buckets of ``spec.every`` over the range; see ``gdpo.storage.aggregate``."""

    async def delete_older_than(self, kind: str, cutoff: Any) -> int:
        """Delete records whose time is before ``cutoff``; return how many went."""

    async def stats(self) -> dict[str, Any]:
        """Counts per kind and sizes: ``{"kinds": {kind: count}, ...}``."""

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """Housekeeping (statistics, vacuum); returns what was done."""


def is_datetime(value: Any) -> bool:
    """True for a datetime (which is also a date in Python), for range checks."""
    return isinstance(value, _dt.datetime)
