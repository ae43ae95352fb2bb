"""The one writer connection: every write is one ``BEGIN IMMEDIATE`` transaction, one at a time.

Writes of the process queue on an asyncio lock (first come, first served), so they never
contend with each other for SQLite's write lock; other processes (a backup, a second
coordinator) are waited for through ``busy_timeout`` and retried with backoff.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

import aiosqlite

from gdpo.storage import StorageError

from gdpo_sqlite.sqlerrors import with_retry

T = TypeVar("T")


class Writer:
    """Serialises transactions on the single writer connection."""

    def __init__(self, conn: aiosqlite.Connection, where: str):
        self.conn = conn
        self.where = where
        self._lock = asyncio.Lock()
        self.queued = 0  # writes waiting for or holding the lock
        self.rows_changed_since_optimize = 0

    async def transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]], doing: str) -> T:
        """Run ``work(conn)`` inside one BEGIN IMMEDIATE transaction (retried as a whole when busy)."""
        self.queued += 1
        try:
            async with self._lock:
                return await with_retry(lambda: self._once(work), self.where, doing)
        finally:
            self.queued -= 1

    async def _once(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        conn = self.conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            result = await work(conn)
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await asyncio.shield(conn.rollback())
            raise
        return result

    async def exclusive(self, work: Callable[[aiosqlite.Connection], Awaitable[T]], doing: str, *,
                        require_idle: bool = False, wait_for_idle_s: float = 30.0) -> T:
        """Run ``work(conn)`` outside a transaction, between writes (for optimize, checkpoint, VACUUM).

        Writes queued before it go first. With ``require_idle`` (VACUUM) it starts only at a
        moment when no write is queued; if writes keep arriving for ``wait_for_idle_s`` it
        gives up with a StorageError rather than make them wait behind a long VACUUM.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_for_idle_s
        while True:
            async with self._lock:
                if self.queued == 0 or not require_idle:
                    return await with_retry(lambda: work(self.conn), self.where, doing)
            if loop.time() >= deadline:
                raise StorageError(f"{self.where}: {doing} not started: writes kept arriving for "
                                   f"{wait_for_idle_s:.0f} s; run it again at a quieter time")
            await asyncio.sleep(0.01)
