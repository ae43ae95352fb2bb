"""The one writer connection: every write is one ``BEGIN IMMEDIATE`` transaction, one at a time.

Writes of the process queue on an asyncio lock (first come, first served), so they never
contend with each other for SQLite's write lock; other processes (a backup, a second
coordinator) are waited for through ``busy_timeout`` and retried with backoff. A whole
transaction runs in the connection's thread in one hop (see ``run_in_connection_thread``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Callable, TypeVar


from gdpo.storage import StorageError

from gdpo_sqlite.connection import ThreadConnection, run_in_connection_thread
from gdpo_sqlite.sqlerrors import with_retry

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


def _in_transaction(conn: sqlite3.Connection, work: Work) -> T:
    """(writer thread) BEGIN IMMEDIATE, ``work(conn)``, COMMIT; ROLLBACK on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


class Writer:
    """Serialises transactions on the single writer connection."""

    def __init__(self, conn: ThreadConnection, where: str):
        self.conn = conn
        self.where = where
        self._lock = asyncio.Lock()
        self.queued = 0  # writes waiting for or holding the lock
        self.rows_changed_since_optimize = 0

    async def transaction(self, work: Work, doing: str) -> T:
        """Run ``work(sqlite3_conn)`` in the writer thread inside one BEGIN IMMEDIATE transaction
        (retried as a whole when busy)."""
        self.queued += 1
        try:
            async with self._lock:
                return await with_retry(lambda: run_in_connection_thread(self.conn, _in_transaction, work),
                                        self.where, doing)
        finally:
            self.queued -= 1

    async def exclusive(self, work: Work, doing: str, *, require_idle: bool = False,
                        wait_for_idle_s: float = 30.0) -> T:
        """Run ``work(sqlite3_conn)`` outside a transaction, between writes (optimize, checkpoint, VACUUM).

        Writes queued before it go first. With ``require_idle`` (VACUUM) it starts only at a
        moment when no write is queued; if writes keep arriving for ``wait_for_idle_s`` it
        gives up with a StorageError rather than make them wait behind a long VACUUM.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_for_idle_s
        while True:
            async with self._lock:
                if self.queued == 0 or not require_idle:
                    return await with_retry(lambda: run_in_connection_thread(self.conn, work), self.where, doing)
            if loop.time() >= deadline:
                raise StorageError(f"{self.where}: {doing} not started: writes kept arriving for "
                                   f"{wait_for_idle_s:.0f} s; run it again at a quieter time")
            await asyncio.sleep(0.01)
