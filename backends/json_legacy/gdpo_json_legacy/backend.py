"""The ``json_legacy`` storage backend: a legacy ``out/`` tree read and written as storage.

Reading streams the tree (see :mod:`gdpo_json_legacy.catalogue`): opening lists the file
names and reads none; the first query reads each file once, one at a time in a worker
thread, and keeps only what it needs to find records again (per file and kind the time span
covered; for kinds keyed by an id, where each id's winning version lives). A read then opens
only the files whose span overlaps the range, file by file (a later file wins over an earlier
copy of a record; files of the composite-era layout are read last); no record is held
between calls beyond a few recently read files. Quarantined files are left alone and listed
by ``stats()``. Every file operation runs in a worker thread, never on the event loop.
The storage service's rollups are kept in ``gdpo-rollups.ndjson`` at the tree's root
(``rollup_file.py``).

Writing: each record goes to its file of the composite-era layout
(``gdpo_json_legacy.writing``); a file is rewritten whole with its old and new records,
atomically (temp file, fsync, rename). Unreadable files are never overwritten.

Provenance (the optional part of ``gdpo.storage.provenance``): ``list_sources`` and
``iter_sources`` stream the tree file by file with each file's outcome (imported, partly
imported, skipped, quarantined and why), ``source_checks`` recomputes the legacy derived
totals, ``archive_sources`` moves imported files to ``out/archive/<run-id>/``.

What it cannot do (declared in ``capabilities``): delete records (legacy files are never
deleted), several writers at once across processes (files are rewritten whole), and
all-or-nothing batches across several files (each file is atomic on its own; running the
same write again completes it).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

from gdpo.storage import (
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
from gdpo.storage import jsontext
from gdpo.storage.provenance import SourceOutcome

from gdpo_json_legacy import rollup_file
from gdpo_json_legacy.archive import archive_files, restore_archive
from gdpo_json_legacy.catalogue import Catalogue
from gdpo_json_legacy.checks import DerivedTotals
from gdpo_json_legacy.reading import read_legacy_file
from gdpo_json_legacy.sources import LegacySource
from gdpo_json_legacy.tree import LegacyTree
from gdpo_json_legacy.writing import atomic_write, group_by_file, render_file_read_back


class JsonLegacyBackend(RollupMethods):
    """Storage backend over a legacy JSON tree (see the module docstring)."""

    rollup_io = rollup_file  # rollups in gdpo-rollups.ndjson at the tree's root, see rollup_file.py
    capabilities = Capabilities(aggregate=True, delete=False, concurrent_writers=False, transactions=False,
                                persistent=True, rollups=True)

    def __init__(self, options: dict[str, Any] | None = None, context: Any = None):
        self.name = getattr(context, "name", None) or "json_legacy"
        directory = (options or {}).get("directory") or "out"
        self.tree = LegacyTree.at(directory)
        self._catalogue: Catalogue | None = None
        self._lock = asyncio.Lock()  # one file operation at a time (the catalogue is not shared)
        self._rollups: dict | None = None  # read from the rollup file on first use
        self._sources: LegacySource | None = None  # the file listing in read order, on first use

    # -- life cycle -----------------------------------------------------------------
    async def open(self) -> None:
        """Create the tree if missing and list its files (no file is read yet)."""
        self._catalogue = await asyncio.to_thread(self._list)

    def _list(self) -> Catalogue:
        root = self.tree.root
        try:
            if not root.exists():
                root.mkdir(parents=True, mode=0o700)
            if not os.access(root, os.R_OK | os.X_OK):
                raise PermissionError(f"no access to {root}")
        except OSError as exc:
            raise StorageError(f"json_legacy: cannot use directory {root}: {exc}") from None
        return Catalogue(self.tree)

    async def close(self) -> None:
        """Forget the catalogue (files are always complete on disk)."""
        self._catalogue = None
        self._rollups = None
        self._sources = None

    def _cat(self) -> Catalogue:
        if self._catalogue is None:
            raise StorageError(f"json_legacy backend at {self.tree.root} is not open")
        return self._catalogue

    async def _in_thread(self, fn, *args):
        """Run a catalogue operation in a worker thread, one at a time."""
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    async def health(self) -> Health:
        """A real round trip: list the tree and check it is writable."""
        t0 = time.perf_counter()
        root = self.tree.root
        ok = await asyncio.to_thread(lambda: root.is_dir() and os.access(root, os.W_OK | os.X_OK))
        detail = f"{root} readable and writable" if ok else f"{root} is missing or not writable"
        return Health(ok=bool(ok) and self._catalogue is not None, backend=self.name, detail=detail,
                      latency_ms=(time.perf_counter() - t0) * 1000)

    # -- writes -----------------------------------------------------------------------
    async def write_batch(self, kind: str, records: Sequence[Record]) -> WriteResult:
        """Rewrite each affected layout file with its old and new records (atomic per file)."""
        cat = self._cat()
        if not records:
            return WriteResult(kind, 0, 0)
        inserted = await self._in_thread(self._write_files, cat, kind, records)
        return WriteResult(kind, len(records), inserted)

    def _write_files(self, cat: Catalogue, kind: str, records: Sequence[Record]) -> int:
        for r in records:  # all payloads must be JSON before any file changes
            try:
                jsontext.dumps_bytes(r.payload)
            except (TypeError, ValueError) as exc:
                raise StorageError(f"{kind}: payload is not JSON-serialisable: {exc}") from None
        new_keys = {r.key for r in records} - cat.existing_keys(kind, records)
        planned = []
        for rel, group in group_by_file(records).items():
            path = self.tree.root / rel
            merged = {r.key: r for r in self._existing(path, rel, kind)}
            merged.update((r.key, r) for r in group)
            planned.append((rel, path, *render_file_read_back(rel, kind, merged.values()), group))
        for rel, path, data, content, group in planned:
            atomic_write(path, data)
            cat.wrote(rel, len(data), content, kind, group)
        return len(new_keys)

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
        """Records with ``start <= time < end``, read from the files whose span overlaps."""
        cat = self._cat()
        return await self._in_thread(cat.read, kind, start, end, limit, descending)

    async def latest(self, kind) -> Record | None:
        """The record with the greatest time."""
        cat = self._cat()
        return await self._in_thread(cat.latest, kind)

    async def aggregate(self, spec: AggregateSpec) -> list[dict[str, Any]]:
        """Buckets computed by the reference implementation over the records of the range."""
        cat = self._cat()

        def run():
            return reference_aggregate(cat.read(spec.kind, spec.start, spec.end, None, False), spec)

        return await self._in_thread(run)

    async def delete_older_than(self, kind, cutoff) -> int:
        """Not offered: legacy files are never deleted."""
        raise CapabilityError("json_legacy never deletes legacy files; use gdpo migrate --archive to move them")

    async def stats(self) -> dict[str, Any]:
        """Records per kind (distinct keys; reads the tree file by file), and the files left
        alone because they cannot be read."""
        if self._catalogue is None:
            return {"kinds": {}, "directory": str(self.tree.root), "quarantined_files": {}}
        cat = self._catalogue
        counts = await self._in_thread(cat.counts)
        return {"kinds": counts, "directory": str(self.tree.root), "quarantined_files": dict(cat.quarantined)}

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """Nothing to maintain in a tree of JSON files."""
        return {"vacuum": False, "detail": "nothing to do for JSON files"}

    # -- provenance (the optional part of gdpo.storage.provenance) ----------------------------
    async def list_sources(self) -> list[str]:
        """The tree's files (relative paths) in read order; reads none of them."""
        return (await self._source()).rel_paths

    async def iter_sources(self) -> AsyncIterator[SourceOutcome]:
        """Each file's outcome in read order, a few files at a time in a worker thread."""
        source = await self._source()
        async for outcome in source.outcomes():
            yield outcome

    def source_checks(self, sources: list[str]) -> DerivedTotals:
        """The legacy derived totals (selling summaries, snapshots, collector day stats)
        recomputed from the imported records (``gdpo_json_legacy.checks``)."""
        return DerivedTotals(sources)

    async def archive_sources(self, run_id: str, sources: list[str], report: dict[str, Any]) -> dict[str, Any]:
        """Move the fully imported files to ``out/archive/<run_id>/`` (``gdpo_json_legacy.archive``)."""
        return await asyncio.to_thread(archive_files, self.tree, run_id, sources, report)

    async def restore_sources(self, run_id: str) -> dict[str, Any]:
        """Move the files archived under ``run_id`` back to their places (``gdpo_json_legacy.archive``)."""
        result = await asyncio.to_thread(restore_archive, self.tree, run_id)
        return {**result, "root": str(self.tree.root)}

    async def _source(self) -> LegacySource:
        if self._sources is None:
            self._cat()  # open first
            self._sources = await asyncio.to_thread(LegacySource, self.tree)  # lists the tree
        return self._sources
