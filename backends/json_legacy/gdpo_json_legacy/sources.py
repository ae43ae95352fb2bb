"""The files of a legacy tree streamed in read order, each mapped to its outcome.

A tree is read a few files at a time in a worker thread, off the event loop, with a couple
of chunks read ahead; only the relative paths of the tree are kept.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

from gdpo_json_legacy.reading import FileOutcome, read_legacy_file
from gdpo_json_legacy.tree import LegacyTree
from gdpo_json_legacy.writing import read_order

FILES_PER_CHUNK = 64
BYTES_PER_CHUNK = 2 * 1024 * 1024
PREFETCH_CHUNKS = 2


def read_chunk(paths: list[tuple[str, str]]) -> list[FileOutcome]:
    """Read and map some files (runs in a worker thread)."""
    return [read_legacy_file(path, rel) for rel, path in paths]


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
