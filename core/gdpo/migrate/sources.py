"""Where a migration reads from: a legacy tree file by file, or any storage kind by kind.

Both stream: a legacy tree is read a few files at a time (in a worker thread, off the
event loop); a storage is read in time windows that adapt to how dense the data is.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

from gdpo.migrate.legacy_read import FileOutcome, read_legacy_file
from gdpo.migrate.legacy_write import read_order
from gdpo.migrate.tree import LegacyTree
from gdpo.storage import KIND_NAMES, Record, Storage, record_class

FILES_PER_CHUNK = 64
BYTES_PER_CHUNK = 2 * 1024 * 1024
PREFETCH_CHUNKS = 2


def read_chunk(paths: list[tuple[str, str]]) -> list[FileOutcome]:
    """Read and map some files (runs in a worker thread)."""
    return [read_legacy_file(path, rel) for rel, path in paths]
FAR_PAST = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
FAR_FUTURE = _dt.datetime(2200, 1, 1, tzinfo=_dt.timezone.utc)


class LegacySource:
    """The files of a legacy tree, in read order, mapped to records."""

    def __init__(self, tree: LegacyTree):
        self.tree = tree
        self._root = os.fspath(tree.root)
        sizes = {rel: size for rel, _, size in tree.entries()}
        # only the relative paths are kept (a tree may hold hundreds of thousands of files);
        # the chunks are cut once, by count and bytes, as index ranges into them
        self.rel_paths = read_order(sizes)
        self._chunk_ends = list(self._cut_chunks(sizes))

    def __len__(self) -> int:
        return len(self.rel_paths)

    async def outcomes(self) -> AsyncIterator[FileOutcome]:
        """Each file's outcome, in read order.

        Files are read and mapped a few files or megabytes at a time in worker threads, off
        the event loop; a couple of chunks are read ahead while the writes run.
        """
        loop = asyncio.get_running_loop()
        root, rels = self._root, self.rel_paths
        chunks = ([(rel, os.path.join(root, rel)) for rel in rels[start:end]]
                  for start, end in zip([0, *self._chunk_ends], self._chunk_ends))
        pending: list[asyncio.Future] = []
        # one reader thread: mapping is Python work, so more threads would only contend for the GIL
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gdpo-legacy-read")
        try:
            for chunk in chunks:
                pending.append(loop.run_in_executor(reader, read_chunk, chunk))
                if len(pending) > PREFETCH_CHUNKS:
                    for outcome in await pending.pop(0):
                        yield outcome
            while pending:
                for outcome in await pending.pop(0):
                    yield outcome
        finally:
            for fut in pending:
                fut.cancel()
            reader.shutdown(wait=False, cancel_futures=True)

    def _cut_chunks(self, sizes: dict[str, int]):
        """End indices of the read chunks: at most FILES_PER_CHUNK files or BYTES_PER_CHUNK bytes."""
        count = size = 0
        for i, rel in enumerate(self.rel_paths):
            count += 1
            size += sizes[rel]
            if count >= FILES_PER_CHUNK or size >= BYTES_PER_CHUNK:
                yield i + 1
                count = size = 0
        if count:
            yield len(self.rel_paths)


def _is_date_kind(kind: str) -> bool:
    return record_class(kind).SPEC.field(record_class(kind).SPEC.time_field).type == "date"


def kind_bounds(kind: str, since: _dt.date | None, until: _dt.date | None, tz_midnight) -> tuple:
    """The read range of ``kind`` for optional local-date bounds (until inclusive)."""
    if _is_date_kind(kind):
        start = since or _dt.date(1970, 1, 1)
        end = (until + _dt.timedelta(days=1)) if until else _dt.date(2200, 1, 1)
        return start, end
    start = tz_midnight(since) if since else FAR_PAST
    end = tz_midnight(until + _dt.timedelta(days=1)) if until else FAR_FUTURE
    return start, end


async def iter_storage_records(storage: Storage, kind: str, start, end, *, target_rows: int = 5000
                               ) -> AsyncIterator[list[Record]]:
    """Records of ``kind`` in ``[start, end)`` in batches, oldest first, by adaptive time windows."""
    first = await storage.read(kind, start, end, limit=1)
    if not first:
        return
    newest = await storage.read(kind, start, end, limit=1, descending=True)
    cursor = first[0].time
    stop = newest[0].time
    date_kind = not isinstance(cursor, _dt.datetime)
    one = _dt.timedelta(days=1) if date_kind else _dt.timedelta(microseconds=1)
    stop = min(stop + one, end) if not date_kind else min(stop + one, end)
    window = _dt.timedelta(days=30) if date_kind else _dt.timedelta(hours=6)
    while cursor < stop:
        upper = min(cursor + window, stop)
        rows = await storage.read(kind, cursor, upper)
        if rows:
            yield rows
        cursor = upper
        if len(rows) > 2 * target_rows and window > _dt.timedelta(minutes=1):
            window /= 2
        elif len(rows) < target_rows // 2:
            window *= 2
        if date_kind and window < _dt.timedelta(days=1):
            window = _dt.timedelta(days=1)


def all_kinds() -> tuple[str, ...]:
    """The record kinds in migration order."""
    return KIND_NAMES
