"""Opening SQLite connections with gdpo's settings (async through aiosqlite, or plain in a thread)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import aiosqlite

T = TypeVar("T")

# Python's sqlite3 module looks up an adapter for every None it binds and misses (about 0.3 µs
# per NULL parameter: records with empty optional columns wrote up to twice as slowly as full
# ones). Registering a C-level function that returns None for None makes a NULL as cheap to
# bind as a number; the value bound is still NULL. (Only None is registered: an adapter for
# int, float or str would send every value through the slow path.)
sqlite3.register_adapter(type(None), {}.get)


@dataclass(frozen=True)
class ConnectionSettings:
    """The per-connection settings of one database file."""

    path: Path
    busy_timeout_ms: int = 5000
    synchronous: str = "NORMAL"
    cache_kib: int = 8192

    def pragmas(self, read_only: bool) -> list[str]:
        """The PRAGMA statements run on every new connection."""
        out = [f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}",
               f"PRAGMA synchronous = {'FULL' if self.synchronous == 'FULL' else 'NORMAL'}",
               f"PRAGMA cache_size = {-int(self.cache_kib)}",
               "PRAGMA temp_store = MEMORY"]
        if read_only:
            out.append("PRAGMA query_only = ON")
        return out


def connect_sync(settings: ConnectionSettings, *, read_only: bool = False) -> sqlite3.Connection:
    """A plain sqlite3 connection in autocommit mode (for use inside one worker thread)."""
    conn = sqlite3.connect(settings.path, timeout=settings.busy_timeout_ms / 1000, isolation_level=None)
    try:
        for pragma in settings.pragmas(read_only):
            conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


async def connect_async(settings: ConnectionSettings, *, read_only: bool = False) -> aiosqlite.Connection:
    """An aiosqlite connection in autocommit mode (transactions are explicit BEGIN IMMEDIATE)."""
    conn = await aiosqlite.connect(settings.path, timeout=settings.busy_timeout_ms / 1000, isolation_level=None)
    try:
        for pragma in settings.pragmas(read_only):
            await conn.execute(pragma)
    except BaseException:
        await conn.close()
        raise
    return conn


async def run_in_connection_thread(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(sqlite3_connection, *args)`` in the connection's own thread, in one hop.

    A whole transaction (BEGIN IMMEDIATE, executemany, COMMIT) then costs one round trip
    between the event loop and the thread instead of three. aiosqlite has no public call
    for this; ``Connection._execute`` is the queue every public method uses (since 0.17).
    """
    return await conn._execute(fn, conn._conn, *args)
