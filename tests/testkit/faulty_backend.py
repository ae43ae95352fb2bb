"""A deliberately broken storage backend: the in-memory reference backend with a fault.

The conformance kit must notice each fault (``tests/testkit/test_kit_catches_faults.py``).
Option ``fault`` of the ``faulty`` section picks one:

* ``none``: the healthy wrapper (passes the kit);
* ``non_atomic``: a batch is stored record by record, so the part before a bad record stays;
* ``fake_health``: ``health()`` answers OK without looking at anything, even when closed;
* ``lost_write``: every ``LOST_EVERY``-th record written is dropped, yet counted as stored;
* ``lossy_maintenance``: ``maintenance()`` deletes the oldest record of each kind.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from gdpo.storage.backend import Health, WriteResult
from gdpo.storage.hookspecs import hookimpl
from gdpo.storage.memory import MemoryBackend
from gdpo.storage.options import Option
from gdpo.storage.records import UTC, Record, record_class

FAULTS = ("none", "non_atomic", "fake_health", "lost_write", "lossy_maintenance")
LOST_EVERY = 3


class FaultyBackend:
    """The memory backend behind one switchable fault (see the module docstring)."""

    def __init__(self, options: dict[str, Any] | None = None, context: Any = None):
        options = dict(options or {})
        self.fault = options.pop("fault", "none")
        if self.fault not in FAULTS:
            raise ValueError(f"faulty: fault must be one of {', '.join(FAULTS)}, got {self.fault!r}")
        self.inner = MemoryBackend(options, context)
        self.name = self.inner.name
        self.capabilities = self.inner.capabilities
        self._written = 0

    async def open(self) -> None:
        """Open the wrapped memory store."""
        await self.inner.open()

    async def close(self) -> None:
        """Close the wrapped memory store."""
        await self.inner.close()

    async def health(self) -> Health:
        """The memory backend's health, or OK regardless under ``fake_health``."""
        if self.fault == "fake_health":
            return Health(ok=True, backend=self.name, detail="fine (not checked)")
        return await self.inner.health()

    async def write_batch(self, kind: str, records: Sequence[Record]) -> WriteResult:
        """Store the batch, with the fault ``non_atomic`` or ``lost_write`` if chosen."""
        if self.fault == "non_atomic":
            total = WriteResult(kind, 0, 0)
            for r in records:
                total += await self.inner.write_batch(kind, [r])
            return total
        if self.fault == "lost_write":
            kept = []
            for r in records:
                self._written += 1
                if self._written % LOST_EVERY:
                    kept.append(r)
            result = await self.inner.write_batch(kind, kept)
            return WriteResult(kind, len(records), result.inserted)
        return await self.inner.write_batch(kind, records)

    async def read_range(self, kind, start, end, *, limit=None, descending=False) -> list[Record]:
        """The memory backend's range read."""
        return await self.inner.read_range(kind, start, end, limit=limit, descending=descending)

    async def latest(self, kind) -> Record | None:
        """The memory backend's latest record."""
        return await self.inner.latest(kind)

    async def aggregate(self, spec) -> list[dict[str, Any]]:
        """The memory backend's aggregate."""
        return await self.inner.aggregate(spec)

    async def delete_older_than(self, kind, cutoff) -> int:
        """The memory backend's delete."""
        return await self.inner.delete_older_than(kind, cutoff)

    async def stats(self) -> dict[str, Any]:
        """The memory backend's stats."""
        return await self.inner.stats()

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """The memory backend's maintenance; under ``lossy_maintenance`` it also deletes the
        oldest record of each kind."""
        if self.fault == "lossy_maintenance":
            for kind in list((await self.inner.stats())["kinds"]):
                first_two = await self.inner.read_range(kind, *_everything(kind), limit=2)
                if len(first_two) == 2:
                    await self.inner.delete_older_than(kind, first_two[1].time)
        return await self.inner.maintenance(vacuum=vacuum)


def _everything(kind: str) -> tuple[Any, Any]:
    """Range bounds around every record of ``kind`` (dates or aware datetimes)."""
    spec = record_class(kind).SPEC
    if next(f for f in spec.fields if f.name == spec.time_field).type == "date":
        return _dt.date(1900, 1, 1), _dt.date(2200, 1, 1)
    return _dt.datetime(1900, 1, 1, tzinfo=UTC), _dt.datetime(2200, 1, 1, tzinfo=UTC)


class FaultyPlugin:
    """A plugin object registering the ``faulty`` backend."""

    @hookimpl
    def gdpo_register_storage_backends(self, register):
        """Register ``faulty`` with its options ``store`` and ``fault``."""
        register("faulty", FaultyBackend, description="The memory backend with a deliberate fault (tests)",
                 options={"store": Option("str", "default", "Name of the in-process store"),
                          "fault": Option("str", "none", f"One of {', '.join(FAULTS)}")})


faulty_plugin = FaultyPlugin()
