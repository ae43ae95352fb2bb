"""The write pipeline: batching, write-through, retry with backoff and the outage spool.

Components write single records (``storage.write(kind, record)``). The pipeline:

* buffers time-series kinds (energy data, system state, forecasts) and writes them as one
  batch (one transaction) when ``batch.size`` records are waiting, when the oldest waited
  ``batch.flush_interval_s``, on ``flush()``, on shutdown, and before a read of that kind;
  a buffer is written in batches of at most ``batch.max_size``;
* writes sessions, decisions and daily stats through at once (``WRITE_THROUGH_KINDS``);
* sends a call carrying ``batch.size`` records or more (a benchmark, the migration tool, a
  day of prices) straight to the backend as one transaction, after the waiting buffer of
  that kind; a failure of such an explicit batch is raised to the caller;
* when a backend fails, appends its batches to that backend's durable spool
  (``gdpo.storage.spool``) and from then on spools every batch for it (order is kept),
  retrying with exponential backoff; once the spool is replayed the backend is written
  directly again. A spool left by a crash is replayed when the next process opens storage.

A record is acknowledged when ``flush()`` (or a write-through write) returns: it is then
committed in its backend or fsync'd in the spool.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from gdpo.storage.backend import StorageBackend, WriteResult
from gdpo.storage.counters import Counters
from gdpo.storage.errors import CapabilityError, RecordValidationError, StorageConnectionError, UnknownKindError
from gdpo.storage.records import UTC, Record
from gdpo.storage.spool import Spool, SpoolError, check_encodable

log = logging.getLogger(__name__)

#: Kinds written through at once instead of waiting for a batch.
WRITE_THROUGH_KINDS = frozenset({"coordinator_decisions", "charging_sessions", "battery_selling_sessions",
                                 "daily_stats"})
#: Errors that say the records are wrong, not that the backend is down: never spooled.
PERMANENT_ERRORS = (RecordValidationError, CapabilityError, UnknownKindError)
#: A spooled batch refused this many times by a healthy backend is set aside as rejected.
POISON_ATTEMPTS = 3


@dataclass(frozen=True)
class PipelineSettings:
    """The ``batch`` and ``spool`` settings of the pipeline."""

    size: int = 10
    max_size: int = 50
    flush_interval_s: float = 60.0
    spool_dir: Path | None = None
    spool_max_bytes: int = 64 * 1024 * 1024
    segment_bytes: int = 4 * 1024 * 1024
    retry_initial_s: float = 1.0
    retry_max_s: float = 60.0

    @classmethod
    def from_config(cls, ds: Mapping[str, Any], spool_dir: Path | None) -> "PipelineSettings":
        """Settings from a validated ``data_storage`` mapping."""
        batch, spool = ds.get("batch") or {}, ds.get("spool") or {}
        return cls(size=batch.get("size", 10), max_size=batch.get("max_size", 50),
                   flush_interval_s=batch.get("flush_interval_s", 60.0), spool_dir=spool_dir,
                   spool_max_bytes=spool.get("max_bytes", cls.spool_max_bytes),
                   segment_bytes=spool.get("segment_bytes", cls.segment_bytes),
                   retry_initial_s=spool.get("retry_initial_s", 1.0), retry_max_s=spool.get("retry_max_s", 60.0))


@dataclass
class Lane:
    """The pipeline's view of one backend: its spool and whether it is in an outage."""

    name: str
    backend: StorageBackend
    spool: Spool | None
    pending: bool = False  # batches wait in the spool: new batches go there too (order)
    last_ok_at: float | None = None  # wall-clock time of the last successful write
    last_error: str | None = None
    last_error_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    drain_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    retry_task: asyncio.Task | None = None
    opened: bool = True  # False: could not be opened at start; the retry task opens it
    on_open: Any = None  # called with the backend once a deferred open succeeds
    poison: dict[tuple[str, int], int] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """State for health and the status file (reads the spool directory: blocking)."""
        return {"pending": self.pending, "last_write_ok_at": _iso(self.last_ok_at),
                "last_error": self.last_error, "last_error_at": _iso(self.last_error_at),
                "spool": self.spool.describe() if self.spool is not None else None}


def _iso(t: float | None) -> str | None:
    return _dt.datetime.fromtimestamp(t, UTC).isoformat() if t is not None else None


def _describe_error(exc: BaseException) -> str:
    from gdpo.config import mask_secrets

    return mask_secrets(f"{type(exc).__name__}: {exc}")


class WritePipeline:
    """Batches, writes, spools and replays the records of one Storage."""

    def __init__(self, backends: Mapping[str, StorageBackend], routes: Mapping[str, str],
                 settings: PipelineSettings, counters: Counters):
        self.settings = settings
        self.counters = counters
        self.routes = dict(routes)
        self.lanes: dict[str, Lane] = {}
        for name, backend in backends.items():
            spool = None
            if settings.spool_dir is not None:
                spool = Spool(settings.spool_dir / name, max_bytes=settings.spool_max_bytes,
                              segment_bytes=settings.segment_bytes)
            self.lanes[name] = Lane(name, backend, spool)
        self._buffers: dict[str, list[Record]] = {}
        self._since: dict[str, float] = {}
        self._kind_locks: dict[str, asyncio.Lock] = {}
        self._timer: asyncio.Task | None = None
        self._background = False
        #: Callables ``(backend, kind, records, seconds)`` told of each batch a backend committed.
        self.write_observers: list = []

    # -- life cycle --------------------------------------------------------------------------
    async def start(self, *, background: bool = True) -> None:
        """Notice spools left by an earlier process and replay them; start the flush timer
        (only for a long-running process: ``background``)."""
        self._background = background
        if not background:
            return  # a short command leaves spools to the long-running process
        for lane in self.lanes.values():
            if not lane.opened:
                self._start_retry(lane)
            elif lane.spool is not None and not await asyncio.to_thread(lane.spool.is_empty):
                lane.pending = True
                log.warning("backend %s: replaying a spool left by an earlier run", lane.name)
                if not await self.drain(lane):
                    self._start_retry(lane)
        self._timer = asyncio.create_task(self._flush_timer(), name="gdpo-storage-flush-timer")

    async def stop(self) -> None:
        """Flush every buffer (spooling what cannot be written), try a last replay, stop tasks."""
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
            self._timer = None
        try:
            await self.flush()
            for lane in self.lanes.values():
                if lane.pending:
                    await self.drain(lane)
        finally:
            for lane in self.lanes.values():
                if lane.retry_task is not None:
                    lane.retry_task.cancel()
                    await asyncio.gather(lane.retry_task, return_exceptions=True)
                    lane.retry_task = None

    def defer_open(self, name: str, exc: BaseException, *, on_open=None) -> None:
        """Start without backend ``name`` (unreachable): spool its batches, open it later."""
        lane = self.lanes[name]
        lane.opened, lane.pending, lane.on_open = False, True, on_open
        lane.last_error, lane.last_error_at = _describe_error(exc), time.time()
        log.warning("backend %s cannot be reached at start (%s); its batches go to the spool until it can",
                    name, lane.last_error)

    def lane_for(self, kind: str) -> Lane:
        """The lane of the backend that owns ``kind``."""
        return self.lanes[self.routes[kind]]

    # -- writing -----------------------------------------------------------------------------
    async def write(self, kind: str, records: list[Record]) -> WriteResult:
        """Accept validated records of one kind (see the module docstring for the policy)."""
        n = len(records)
        if n == 0:
            return WriteResult(kind, 0, 0)
        if n >= self.settings.size:
            await self.flush_kind(kind)
            result = await self._deliver(kind, records, explicit=True)
            self.counters.add("writes", n)
            return result
        check_encodable(kind, records)
        self.counters.add("writes", n)
        if kind in WRITE_THROUGH_KINDS:
            return await self._deliver(kind, records, explicit=False)
        buf = self._buffers.get(kind)
        if not buf:
            buf = self._buffers[kind] = []
            self._since[kind] = time.monotonic()
        buf.extend(records)
        if len(buf) >= self.settings.size:
            await self.flush_kind(kind)
        return WriteResult(kind, n, None)

    def buffered(self) -> dict[str, int]:
        """Records waiting in memory, by kind."""
        return {k: len(v) for k, v in self._buffers.items() if v}

    async def flush_kind(self, kind: str) -> None:
        """Write the waiting buffer of ``kind`` (in batches of at most ``max_size``)."""
        if not self._buffers.get(kind):
            return
        lock = self._kind_locks.setdefault(kind, asyncio.Lock())
        async with lock:
            buf = self._buffers.pop(kind, None)
            since = self._since.pop(kind, None)
            if not buf:
                return
            step = self.settings.max_size
            for i in range(0, len(buf), step):
                try:
                    await self._deliver(kind, buf[i:i + step], explicit=False)
                except BaseException:
                    # neither written nor spooled: keep them (in order) for the next flush
                    self._buffers[kind] = buf[i:] + self._buffers.get(kind, [])
                    self._since[kind] = since if since is not None else time.monotonic()
                    raise

    async def flush(self) -> None:
        """Write every waiting buffer; raise the first failure after trying them all."""
        errors = []
        for kind in list(self._buffers):
            try:
                await self.flush_kind(kind)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    async def before_read(self, kind: str) -> None:
        """Make a read of ``kind`` see every earlier write: flush it, replay a waiting spool."""
        await self.flush_kind(kind)
        lane = self.lane_for(kind)
        if lane.pending:
            await self.drain(lane)

    async def _deliver(self, kind: str, batch: Sequence[Record], *, explicit: bool) -> WriteResult:
        lane = self.lane_for(kind)
        if lane.pending:
            if explicit:
                if not await self.drain(lane):
                    raise StorageConnectionError(
                        f"backend {lane.name!r} is unreachable ({lane.last_error}); batches wait in its spool "
                        f"{lane.spool.directory if lane.spool else ''}; retry later")
            else:
                async with lane.lock:
                    if lane.pending:
                        return await self._spool(lane, kind, batch)
        started = time.perf_counter()
        try:
            result = await lane.backend.write_batch(kind, batch)
        except PERMANENT_ERRORS:
            raise
        except Exception as exc:
            self._note_failure(lane, exc)
            if explicit or lane.spool is None:
                raise
            lane.pending = True
            async with lane.lock:
                spooled = await self._spool(lane, kind, batch)
            self._start_retry(lane)
            return spooled
        lane.last_ok_at = time.time()
        self.counters.add("batches")
        self._observe(lane.name, kind, len(batch), time.perf_counter() - started)
        return result

    def _observe(self, backend: str, kind: str, n: int, seconds: float) -> None:
        for observer in self.write_observers:
            try:
                observer(backend, kind, n, seconds)
            except Exception:  # an observer never costs a write
                log.exception("write observer %r failed", observer)

    def _note_failure(self, lane: Lane, exc: BaseException) -> None:
        if lane.last_error is None or not lane.pending:
            log.warning("backend %s failed a write (%s); its batches go to the spool", lane.name,
                        _describe_error(exc))
        lane.last_error = _describe_error(exc)
        lane.last_error_at = time.time()

    async def _spool(self, lane: Lane, kind: str, batch: Sequence[Record]) -> WriteResult:
        assert lane.spool is not None
        try:
            outcome = await asyncio.to_thread(lane.spool.append, kind, list(batch))
        except (SpoolError, OSError) as exc:
            self.counters.add("failed", len(batch))
            raise SpoolError(f"backend {lane.name!r} is unreachable ({lane.last_error}) and its spool "
                             f"cannot be written: {exc}") from None
        self.counters.add("spooled", outcome["spooled"])
        if outcome["dropped"]:
            self.counters.add("dropped", outcome["dropped"])
        return WriteResult(kind, len(batch), None)

    # -- replaying ---------------------------------------------------------------------------
    def _start_retry(self, lane: Lane) -> None:
        if not self._background or (lane.retry_task is not None and not lane.retry_task.done()):
            return
        lane.retry_task = asyncio.create_task(self._retry_loop(lane), name=f"gdpo-storage-retry-{lane.name}")

    async def _retry_loop(self, lane: Lane) -> None:
        delay = self.settings.retry_initial_s
        while lane.pending:
            await asyncio.sleep(delay)
            try:
                if await self.drain(lane):
                    log.warning("backend %s is back: its spool is replayed", lane.name)
                    return
            except Exception as exc:  # keep retrying whatever happens
                log.warning("backend %s: replay failed: %s", lane.name, _describe_error(exc))
            self.counters.add("retries")
            delay = min(delay * 2, self.settings.retry_max_s)

    async def drain(self, lane: Lane) -> bool:
        """Replay the spool of ``lane`` in order; True when it is empty afterwards."""
        if lane.spool is None:
            return True
        if not lane.opened:
            try:
                await lane.backend.open()
            except Exception as exc:
                self._note_failure(lane, exc)
                return False
            lane.opened = True
            if lane.on_open is not None:
                lane.on_open(lane.backend)
        async with lane.drain_lock:
            with lane.spool.replay_lock() as mine:
                if not mine:
                    return not lane.spool.directory.is_dir() or await asyncio.to_thread(lane.spool.is_empty)
                for _ in range(1000):
                    sealed = await asyncio.to_thread(lane.spool.seal)
                    if not sealed:
                        async with lane.lock:
                            if await asyncio.to_thread(lane.spool.is_empty):
                                lane.pending = False
                                return True
                        continue
                    for seg in sealed:
                        if not await self._replay_segment(lane, seg):
                            return False
        return False

    async def _replay_segment(self, lane: Lane, seg: Path) -> bool:
        batches = await asyncio.to_thread(lane.spool.read_segment, seg)
        for pos, b in enumerate(batches):
            started = time.perf_counter()
            try:
                await lane.backend.write_batch(b.kind, b.records)
            except Exception as exc:
                if not await self._refused_while_healthy(lane, b, exc):
                    self._note_failure(lane, exc)
                    if pos:  # what is replayed leaves the segment (the counters stay exact)
                        await asyncio.to_thread(lane.spool.forget_head, seg, b.index)
                    return False
            else:
                self.counters.add("replayed", len(b.records))
                self.counters.add("batches")
                lane.last_ok_at = time.time()
                self._observe(lane.name, b.kind, len(b.records), time.perf_counter() - started)
        await asyncio.to_thread(lane.spool.remove, seg)
        return True

    async def _refused_while_healthy(self, lane: Lane, batch, exc: Exception) -> bool:
        """True when a healthy backend keeps refusing this batch: it is set aside as rejected."""
        if not isinstance(exc, PERMANENT_ERRORS):
            try:
                healthy = (await lane.backend.health()).ok
            except Exception:
                healthy = False
            if not healthy:
                return False
            key = (batch.segment.name, batch.index)
            lane.poison[key] = lane.poison.get(key, 0) + 1
            if lane.poison[key] < POISON_ATTEMPTS:
                return False
        log.error("backend %s refused a spooled batch of %d %s records (%s); kept in %s", lane.name,
                  len(batch.records), batch.kind, _describe_error(exc), lane.spool.directory / "rejected.ndjson")
        await asyncio.to_thread(lane.spool.reject, batch.raw)
        self.counters.add("rejected", len(batch.records))
        return True

    # -- the flush timer ---------------------------------------------------------------------
    async def _flush_timer(self) -> None:
        interval = self.settings.flush_interval_s
        tick = max(0.01, min(1.0, interval / 2))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for kind, since in list(self._since.items()):
                if now - since >= interval:
                    try:
                        await self.flush_kind(kind)
                    except Exception as exc:
                        log.warning("flushing %s failed (%s); kept for the next flush", kind, _describe_error(exc))

    def describe(self) -> dict[str, Any]:
        """Lanes and buffers (blocking: reads spool directories)."""
        return {"backends": {name: lane.describe() for name, lane in self.lanes.items()},
                "buffered": self.buffered()}
