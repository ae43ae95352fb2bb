"""What a migration has seen: per record kind, the digest of the winning source record of each key.

The migration needs it to find the same record in two files, to count distinct records, for
the source checksum and to pick the migrated keys out of the target when validating. It is
the only state that grows with the size of the tree, so it is kept in memory only up to
``max_in_memory`` keys (about 130 bytes each); beyond that the keys move to a temporary
SQLite file (created 0600 in a private temporary directory, removed at close), and memory
stays bounded however large the tree.

Keys are Python hashes of natural keys (only meaningful inside one process: they are never
kept beyond it); digests are the stable ones of ``gdpo.migrate.checksum``. All methods that
may touch the file are coroutines that run it in one worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

from gdpo.migrate.checksum import MASK64

# keys kept in memory before they move to the temporary file (about 13 MB)
DEFAULT_MAX_IN_MEMORY = 100_000
SQL_VARIABLES = 500  # key hashes per IN (...) query
_SIGN = 1 << 63


def _to_db(digest: int) -> int:
    """An unsigned 64-bit digest as SQLite's signed INTEGER."""
    return digest - (1 << 64) if digest >= _SIGN else digest


def _from_db(value: int) -> int:
    return value & MASK64


class SeenDigests:
    """key hash -> digest of the winning record, per kind; in memory, then in a temporary file."""

    def __init__(self, max_in_memory: int = DEFAULT_MAX_IN_MEMORY):
        if max_in_memory < 1:
            raise ValueError("max_in_memory must be at least 1")
        self.max_in_memory = max_in_memory
        self.memory: dict[str, dict[int, int]] = {}
        self.in_memory = 0
        self.spilled_keys = 0
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._db: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    @property
    def spilled(self) -> bool:
        """True once keys have moved to the temporary file."""
        return self._db is not None

    async def lookup(self, kind: str, key_hashes: Iterable[int]) -> tuple[dict[int, int], set[int]]:
        """The digests already recorded for any of ``key_hashes`` (missing keys are left out),
        and which of those keys are in the file rather than in memory."""
        if not isinstance(key_hashes, (list, tuple, set)):
            key_hashes = list(key_hashes)
        memory = self.memory.get(kind)
        found: dict[int, int] = {}
        if memory:
            hits = memory.keys() & key_hashes  # one C-level pass
            found = {k: memory[k] for k in hits}
        in_file: dict[int, int] = {}
        if self._db is not None:
            rest = [k for k in key_hashes if k not in found]
            if rest:
                in_file = await self._run(self._lookup_file, kind, rest)
                found.update(in_file)
        return found, set(in_file)

    async def contains(self, kind: str, key_hashes: Iterable[int]) -> set[int]:
        """The subset of ``key_hashes`` that has been recorded for ``kind``."""
        if self._db is None:  # in memory only: one set operation
            return self.memory.get(kind, {}).keys() & key_hashes
        found, _ = await self.lookup(kind, key_hashes)
        return set(found)

    async def record(self, kind: str, digests: dict[int, int], in_file: Iterable[int] = ()) -> None:
        """Record ``digests`` (key hash -> digest) as the winners; ``in_file`` names keys that
        :meth:`lookup` found in the file (they are replaced there, so a key is never in both)."""
        in_file = set(in_file)
        if in_file:
            await self._run(self._replace_in_file, kind, [(k, digests[k]) for k in in_file])
        memory = self.memory.setdefault(kind, {})
        before = len(memory)
        if in_file:
            memory.update((k, d) for k, d in digests.items() if k not in in_file)
        else:
            memory.update(digests)
        self.in_memory += len(memory) - before
        if self.in_memory >= self.max_in_memory:
            await self._run(self._spill)

    async def count(self, kind: str) -> int:
        """Distinct keys recorded for ``kind``."""
        n = len(self.memory.get(kind, {}))
        if self._db is not None:
            n += await self._run(self._count_file, kind)
        return n

    async def total(self, kind: str) -> int:
        """The sum of the recorded digests of ``kind``, mod 2**64 (see ``checksum.combine``)."""
        total = sum(self.memory.get(kind, {}).values())
        if self._db is not None:
            total += await self._run(self._sum_file, kind)
        return total & MASK64

    def close(self) -> None:
        """Remove the temporary file (if any) and stop the worker thread."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- the temporary file (worker thread only) ----------------------------------------------
    async def _run(self, fn, *args):
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gdpo-migrate-seen")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _open_file(self) -> sqlite3.Connection:
        self._tmp = tempfile.TemporaryDirectory(prefix="gdpo-migrate-")  # created 0700
        path = os.path.join(self._tmp.name, "seen.sqlite")
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF", "PRAGMA cache_size = -4096",
                       "PRAGMA temp_store = FILE"):
            db.execute(pragma)
        db.execute("CREATE TABLE seen (kind TEXT NOT NULL, key_hash INTEGER NOT NULL, digest INTEGER NOT NULL, "
                   "PRIMARY KEY (kind, key_hash)) WITHOUT ROWID")
        return db

    def _spill(self) -> None:
        if self._db is None:
            self._db = self._open_file()
        db = self._db
        db.execute("BEGIN")
        for kind, memory in self.memory.items():
            db.executemany("INSERT OR REPLACE INTO seen (kind, key_hash, digest) VALUES (?, ?, ?)",
                           ((kind, k, _to_db(d)) for k, d in memory.items()))
            self.spilled_keys += len(memory)
        db.execute("COMMIT")
        self.memory = {}
        self.in_memory = 0

    def _lookup_file(self, kind: str, key_hashes: list[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for i in range(0, len(key_hashes), SQL_VARIABLES):
            part = key_hashes[i:i + SQL_VARIABLES]
            marks = ", ".join("?" * len(part))
            rows = self._db.execute(f"SELECT key_hash, digest FROM seen WHERE kind = ? AND key_hash IN ({marks})",
                                    (kind, *part))
            found.update((k, _from_db(d)) for k, d in rows)
        return found

    def _replace_in_file(self, kind: str, pairs: list[tuple[int, int]]) -> None:
        self._db.executemany("UPDATE seen SET digest = ? WHERE kind = ? AND key_hash = ?",
                             [(_to_db(d), kind, k) for k, d in pairs])

    def _count_file(self, kind: str) -> int:
        return self._db.execute("SELECT count(*) FROM seen WHERE kind = ?", (kind,)).fetchone()[0]

    def _sum_file(self, kind: str) -> int:
        total = 0
        for (digest,) in self._db.execute("SELECT digest FROM seen WHERE kind = ?", (kind,)):
            total += digest & MASK64
        return total
