"""Opening SQLite connections with gdpo's settings: async (a connection owning one thread of its
own, fed through a queue) or plain, for use in a worker thread.

Only public APIs of ``sqlite3``, ``threading`` and ``asyncio`` are used, and nothing is changed
for the process: no adapter or converter registered with sqlite3 (those are global
to the interpreter and would change how every other sqlite3 user in the process binds values).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")


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


class ThreadConnection:
    """One sqlite3 connection used only from one thread of its own.

    ``run(fn, *args)`` calls ``fn(sqlite3_connection, *args)`` in that thread: a whole
    transaction (BEGIN IMMEDIATE, executemany, COMMIT) costs one round trip between the
    event loop and the thread, and the event loop never blocks on SQLite. The thread takes
    work from a queue and hands results back with ``loop.call_soon_threadsafe`` (cheaper per
    hop than an executor's futures: it is what batches of 10 spend most of their time on).
    """

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._sqlite: sqlite3.Connection | None = None
        self.closed = False

    @classmethod
    async def open(cls, settings: "ConnectionSettings", *, read_only: bool = False) -> "ThreadConnection":
        """Open a connection with ``settings`` in a new thread of its own."""
        self = cls(f"sqlite {settings.path.name}")
        self._thread.start()
        try:
            self._sqlite = await self._call(lambda: connect_sync(settings, read_only=read_only))
        except BaseException:
            self.closed = True
            self._queue.put(None)
            raise
        return self

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, fut, fn, args = item
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the awaiting coroutine
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_resolve, fut, result, error)
            except RuntimeError:  # the event loop is closed: nobody waits any more
                pass

    def _call(self, fn: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.put((loop, fut, fn, args))
        return fut

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open on the connection (``sqlite3.Connection.in_transaction``)."""
        return self._sqlite is not None and self._sqlite.in_transaction

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(sqlite3_connection, *args)`` in the connection's thread."""
        if self.closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return await self._call(fn, self._sqlite, *args)

    async def execute(self, sql: str, params: Any = ()) -> list:
        """Run one statement in the connection's thread; its rows."""
        return await self.run(lambda conn: conn.execute(sql, params).fetchall())

    async def close(self) -> None:
        """Close the connection (in its thread) and end the thread. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            await self._call(self._sqlite.close)
        finally:
            self._queue.put(None)


def _resolve(fut: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if fut.cancelled():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


async def connect_async(settings: ConnectionSettings, *, read_only: bool = False) -> ThreadConnection:
    """A connection in autocommit mode owning one thread (transactions are explicit BEGIN IMMEDIATE)."""
    return await ThreadConnection.open(settings, read_only=read_only)


async def run_in_connection_thread(conn: ThreadConnection, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(sqlite3_connection, *args)`` in the connection's own thread, in one hop."""
    return await conn.run(fn, *args)
