"""A pool of read-only connections: ``min`` kept open, up to ``max``, idle extras closed.

In WAL mode readers never block the writer or each other, so reads run in parallel on
their own connections (each connection has its own thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, AsyncIterator, Awaitable, Callable

from gdpo.storage import StorageError
from gdpo_sqlite.connection import ThreadConnection


class ReaderPool:
    """Read connections handed out one task at a time."""

    def __init__(self, connect: Callable[[], Awaitable[ThreadConnection]], *, min_size: int, max_size: int,
                 idle_timeout_s: float, where: str):
        self._connect = connect
        self.min_size = max(1, min(min_size, max_size))
        self.max_size = max(1, max_size)
        self.idle_timeout_s = idle_timeout_s
        self._where = where
        self._idle: list[tuple[ThreadConnection, float]] = []  # most recently used last
        self._size = 0
        self._waiters: list[asyncio.Future] = []
        self._closed = False
        self._reaper: asyncio.Task | None = None
        self.opened_total = 0
        self.closed_idle_total = 0

    async def open(self) -> None:
        """Open ``min_size`` connections and start closing idle extras."""
        for _ in range(self.min_size):
            await self.release(await self._new())
        self._reaper = asyncio.create_task(self._reap_forever(), name=f"sqlite-pool-reaper {self._where}")

    async def _new(self) -> ThreadConnection:
        self._size += 1
        try:
            conn = await self._connect()
        except BaseException:
            self._size -= 1
            self._wake()
            raise
        self.opened_total += 1
        return conn

    async def acquire(self) -> ThreadConnection:
        """An idle connection, a new one below ``max_size``, or wait for one to come back."""
        while True:
            if self._closed:
                raise StorageError(f"{self._where}: the SQLite backend is closed")
            if self._idle:
                return self._idle.pop()[0]
            if self._size < self.max_size:
                return await self._new()
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake()  # this waiter was woken for a connection: pass the turn on
                raise
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    async def release(self, conn: ThreadConnection) -> None:
        """Give a connection back (closed instead if the pool is closed)."""
        if self._closed:
            self._size -= 1
            await conn.close()
            return
        self._idle.append((conn, time.monotonic()))
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            fut = self._waiters.pop(0)
            if not fut.done():
                fut.set_result(None)
                return

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[ThreadConnection]:
        """``async with pool.connection() as conn``: acquire, then release."""
        conn = await self.acquire()
        try:
            yield conn
        finally:
            await self.release(conn)

    async def close_idle(self, now: float | None = None) -> int:
        """Close connections idle longer than ``idle_timeout_s``, keeping ``min_size`` open."""
        now = time.monotonic() if now is None else now
        closed = 0
        # the oldest idle connections are first in the list
        while self._idle and self._size > self.min_size and now - self._idle[0][1] >= self.idle_timeout_s:
            conn, _ = self._idle.pop(0)
            self._size -= 1
            closed += 1
            await conn.close()
        self.closed_idle_total += closed
        return closed

    async def _reap_forever(self) -> None:
        interval = max(0.05, min(self.idle_timeout_s / 2, 30.0))
        while not self._closed:
            await asyncio.sleep(interval)
            await self.close_idle()

    async def close(self) -> None:
        """Close every idle connection; those in use close when they come back."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._size -= 1
            await conn.close()
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)

    def stats(self) -> dict[str, Any]:
        """Open, idle and in-use connection counts and the limits."""
        return {"open": self._size, "idle": len(self._idle), "in_use": self._size - len(self._idle),
                "min": self.min_size, "max": self.max_size, "idle_timeout_s": self.idle_timeout_s,
                "opened_total": self.opened_total, "closed_idle_total": self.closed_idle_total}
