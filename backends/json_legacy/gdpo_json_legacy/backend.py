"""The ``json_legacy`` storage backend: a legacy ``out/`` tree read and written as storage.

Reading: on open, every legacy file of the tree is sniffed and mapped by the importer
(``gdpo.migrate.legacy_read``), and the records are indexed in memory (a later file wins
over an earlier copy of a record; files of the composite-era layout are read last).
Quarantined files are left alone and listed by ``stats()``. The storage service's rollups
are kept in ``gdpo-rollups.ndjson`` at the tree's root (``rollup_file.py``).

Writing: each record goes to its file of the composite-era layout
(``gdpo.migrate.legacy_write``); a file is rewritten whole with its old and new records,
atomically (temp file, fsync, rename). Unreadable files are never overwritten.

What it cannot do (declared in ``capabilities``): delete records (legacy files are never
deleted), several writers at once across processes (files are rewritten whole), and
all-or-nothing batches across several files (each file is atomic on its own; running the
same write again completes it).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

from gdpo.migrate.legacy_read import read_legacy_file
from gdpo.migrate.legacy_write import atomic_write, group_by_file, read_order, render_file
from gdpo.migrate.tree import LegacyTree
from gdpo.storage import (
    KIND_NAMES,
    AggregateSpec,
    Capabilities,
    CapabilityError,
    Health,
    Record,
    StorageError,
    WriteResult,
    RollupMethods,
    reference_aggregate,
)

from gdpo_json_legacy import rollup_file


class _KindIndex:
    """Records of one kind by natural key, with a lazily sorted (time, key) order."""

    def __init__(self) -> None:
        self.by_key: dict[tuple, Record] = {}
        self._order: list[tuple] | None = None

    def put(self, record: Record) -> bool:
        """Insert or replace ``record``; True when its key is new."""
        new = record.key not in self.by_key
        self.by_key[record.key] = record
        self._order = None
        return new

    def order(self) -> list[tuple]:
        """The (time, key) pairs in order (sorted again after a change)."""
        if self._order is None:
            self._order = sorted((r.time, k) for k, r in self.by_key.items())
        return self._order

    def range(self, start, end) -> list[Record]:
        """Records with ``start <= time < end``, oldest first."""
        order = self.order()
        lo = bisect.bisect_left(order, (start,))
        hi = bisect.bisect_left(order, (end,))
        return [self.by_key[k] for _, k in order[lo:hi]]


class JsonLegacyBackend(RollupMethods):
    """Storage backend over a legacy JSON tree (see the module docstring)."""

    rollup_io = rollup_file  # rollups in gdpo-rollups.ndjson at the tree's root, see rollup_file.py
    capabilities = Capabilities(aggregate=True, delete=False, concurrent_writers=False, transactions=False,
                                persistent=True, rollups=True)

    def __init__(self, options: dict[str, Any] | None = None, context: Any = None):
        self.name = getattr(context, "name", None) or "json_legacy"
        directory = (options or {}).get("directory") or "out"
        self.tree = LegacyTree.at(directory)
        self._index: dict[str, _KindIndex] | None = None
        self._quarantined: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._rollups: dict | None = None  # read from the rollup file on first use

    # -- life cycle -----------------------------------------------------------------
    async def open(self) -> None:
        """Create the tree if missing, then read and index every legacy file."""
        self._index = await asyncio.to_thread(self._scan)

    def _scan(self) -> dict[str, _KindIndex]:
        root = self.tree.root
        try:
            if not root.exists():
                root.mkdir(parents=True, mode=0o700)
            if not os.access(root, os.R_OK | os.X_OK):
                raise PermissionError(f"no access to {root}")
        except OSError as exc:
            raise StorageError(f"json_legacy: cannot use directory {root}: {exc}") from None
        index = {kind: _KindIndex() for kind in KIND_NAMES}
        files = {self.tree.rel(p): p for p in self.tree.files()}
        self._quarantined = {}
        for rel in read_order(files):
            outcome = read_legacy_file(files[rel], rel)
            if outcome.disposition == "quarantine":
                self._quarantined[rel] = outcome.reason or ""
            for record in outcome.records:
                index[record.KIND].put(record)
        return index

    async def close(self) -> None:
        """Forget the index (files are always complete on disk)."""
        self._index = None
        self._rollups = None

    def _kind(self, kind: str) -> _KindIndex:
        if self._index is None:
            raise StorageError(f"json_legacy backend at {self.tree.root} is not open")
        return self._index[kind]

    async def health(self) -> Health:
        """A real round trip: list the tree and check it is writable."""
        t0 = time.perf_counter()
        root = self.tree.root
        ok = await asyncio.to_thread(lambda: root.is_dir() and os.access(root, os.W_OK | os.X_OK))
        detail = f"{root} readable and writable" if ok else f"{root} is missing or not writable"
        return Health(ok=bool(ok) and self._index is not None, backend=self.name, detail=detail,
                      latency_ms=(time.perf_counter() - t0) * 1000)

    # -- writes -----------------------------------------------------------------------
    async def write_batch(self, kind: str, records: Sequence[Record]) -> WriteResult:
        """Rewrite each affected layout file with its old and new records (atomic per file)."""
        index = self._kind(kind)
        if not records:
            return WriteResult(kind, 0, 0)
        async with self._lock:
            await asyncio.to_thread(self._write_files, kind, records)
            new_keys = {r.key for r in records if r.key not in index.by_key}
            for r in records:
                index.put(r)
        return WriteResult(kind, len(records), len(new_keys))

    def _write_files(self, kind: str, records: Sequence[Record]) -> None:
        for r in records:  # all payloads must be JSON before any file changes
            try:
                json.dumps(r.payload, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise StorageError(f"{kind}: payload is not JSON-serialisable: {exc}") from None
        planned: list[tuple[Path, bytes]] = []
        for rel, group in group_by_file(records).items():
            path = self.tree.root / rel
            merged = {r.key: r for r in self._existing(path, rel, kind)}
            merged.update((r.key, r) for r in group)
            planned.append((path, render_file(rel, kind, merged.values())))
        for path, data in planned:
            atomic_write(path, data)

    def _existing(self, path: Path, rel: str, kind: str) -> list[Record]:
        if not path.exists():
            return []
        outcome = read_legacy_file(path, rel)
        if outcome.disposition != "import":
            why = outcome.reason or f"bad lines {[b['line'] for b in outcome.bad_lines]}"
            raise StorageError(f"json_legacy: refusing to rewrite {path}: it is not fully readable ({why})")
        return [r for r in outcome.records if r.KIND == kind]

    # -- reads --------------------------------------------------------------------------
    async def read_range(self, kind, start, end, *, limit=None, descending=False) -> list[Record]:
        """Records with ``start <= time < end`` from the index."""
        rows = self._kind(kind).range(start, end)
        if descending:
            rows.reverse()
        return rows[:limit] if limit is not None else rows

    async def latest(self, kind) -> Record | None:
        """The record with the greatest time."""
        index = self._kind(kind)
        order = index.order()
        return index.by_key[order[-1][1]] if order else None

    async def aggregate(self, spec: AggregateSpec) -> list[dict[str, Any]]:
        """Buckets computed by the reference implementation over the indexed records."""
        return reference_aggregate(self._kind(spec.kind).range(spec.start, spec.end), spec)

    async def delete_older_than(self, kind, cutoff) -> int:
        """Not offered: legacy files are never deleted."""
        raise CapabilityError("json_legacy never deletes legacy files; use gdpo migrate --archive to move them")

    async def stats(self) -> dict[str, Any]:
        """Records per kind, and the files left alone because they cannot be read."""
        index = self._index or {}
        return {"kinds": {k: len(i.by_key) for k, i in index.items()}, "directory": str(self.tree.root),
                "quarantined_files": dict(self._quarantined)}

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """Nothing to maintain in a tree of JSON files."""
        return {"vacuum": False, "detail": "nothing to do for JSON files"}
