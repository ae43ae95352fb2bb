"""An in-memory reference backend: the simplest complete implementation of the protocol.

It is not an entry point: the core's tests register it by hand
(``get_plugin_manager().register(memory_plugin, name="memory")``) and run the conformance
testkit against it. Stores are named (option ``store``), so a second open of the same
store in one process sees the data, as a reopened database file would. Payloads are
round-tripped through JSON on write, as a database would store them.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from typing import Any, Sequence

from gdpo.storage.aggregate import reference_aggregate
from gdpo.storage.backend import AggregateSpec, Capabilities, Health, WriteResult
from gdpo.storage.errors import StorageConnectionError, StorageError
from gdpo.storage.hookspecs import hookimpl
from gdpo.storage.options import Option
from gdpo.storage.records import Record, record_class

_STORES: dict[str, dict[str, "_KindTable"]] = {}


class _KindTable:
    """Records of one kind by natural key, with a sorted index on (time, key)."""

    def __init__(self, kind: str):
        cls = record_class(kind)
        self.cls = cls
        self.time_field = cls.SPEC.time_field
        self.by_key: dict[tuple, Record] = {}
        self.order: list[tuple] = []  # sorted (time, key)

    def upsert(self, record: Record) -> bool:
        key = record.key
        old = self.by_key.get(key)
        if old is not None:
            pos = bisect.bisect_left(self.order, (old.time, key))
            del self.order[pos]
        self.by_key[key] = record
        bisect.insort(self.order, (record.time, key))
        return old is None

    def range(self, start, end) -> list[Record]:
        lo = bisect.bisect_left(self.order, (start,))
        hi = bisect.bisect_left(self.order, (end,))
        return [self.by_key[k] for _, k in self.order[lo:hi]]


class MemoryBackend:
    """Reference backend keeping records in process memory."""

    capabilities = Capabilities(concurrent_writers=True, transactions=True, persistent=True)

    def __init__(self, options: dict[str, Any] | None = None, context: Any = None):
        self.name = getattr(context, "name", None) or "memory"
        self.store_name = (options or {}).get("store") or "default"
        self._tables: dict[str, _KindTable] | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._tables = _STORES.setdefault(self.store_name, {})

    async def close(self) -> None:
        self._tables = None

    def _table(self, kind: str) -> _KindTable:
        if self._tables is None:
            # a closed store is the reference backend's outage: a connection-class error
            raise StorageConnectionError(f"memory backend {self.store_name!r} is not open")
        table = self._tables.get(kind)
        if table is None:
            table = self._tables[kind] = _KindTable(kind)
        return table

    async def health(self) -> Health:
        t0 = time.perf_counter()
        ok = self._tables is not None
        return Health(ok=ok, backend=self.name, detail="open" if ok else "closed",
                      latency_ms=(time.perf_counter() - t0) * 1000)

    async def write_batch(self, kind: str, records: Sequence[Record]) -> WriteResult:
        table = self._table(kind)
        index = table.cls.INDEX
        pi = index["payload"]
        mi = index.get("metrics")
        stored = []
        for r in records:  # validate every payload before changing anything: all or nothing
            values = list(r.as_tuple())
            values[pi] = _json_copy(kind, values[pi])
            if mi is not None and values[mi] is not None:
                values[mi] = _json_copy(kind, values[mi])
            stored.append(table.cls.from_trusted(values))
        async with self._lock:
            inserted = sum(table.upsert(r) for r in stored)
        return WriteResult(kind, len(stored), inserted)

    async def read_range(self, kind, start, end, *, limit=None, descending=False) -> list[Record]:
        rows = self._table(kind).range(start, end)
        if descending:
            rows.reverse()
        return rows[:limit] if limit is not None else rows

    async def latest(self, kind) -> Record | None:
        table = self._table(kind)
        return table.by_key[table.order[-1][1]] if table.order else None

    async def aggregate(self, spec: AggregateSpec) -> list[dict[str, Any]]:
        return reference_aggregate(self._table(spec.kind).range(spec.start, spec.end), spec)

    async def delete_older_than(self, kind, cutoff) -> int:
        table = self._table(kind)
        async with self._lock:
            old = table.range(table.order[0][0], cutoff) if table.order else []
            for r in old:
                del table.by_key[r.key]
            del table.order[:len(old)]
        return len(old)

    async def stats(self) -> dict[str, Any]:
        tables = self._tables or {}
        return {"kinds": {k: len(t.by_key) for k, t in tables.items()}, "store": self.store_name}

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        return {"vacuum": False, "detail": "nothing to do in memory"}


def _json_copy(kind: str, value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise StorageError(f"{kind}: payload is not JSON-serialisable: {exc}") from None


def drop_store(name: str) -> None:
    """Forget a named in-memory store (tests use a fresh one each)."""
    _STORES.pop(name, None)


class MemoryPlugin:
    """A plugin object registering the ``memory`` backend."""

    @hookimpl
    def gdpo_register_storage_backends(self, register):
        register("memory", MemoryBackend, description="In-memory reference backend (tests)",
                 options={"store": Option("str", "default", "Name of the in-process store")})


memory_plugin = MemoryPlugin()
