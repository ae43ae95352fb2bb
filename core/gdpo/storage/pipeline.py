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
* guards each backend with a breaker (``gdpo.storage.breaker``): a connection-class error
  opens it; while it is open no call touches the backend: batches go straight to that
  backend's durable spool (``gdpo.storage.spool``; order is kept), explicit batches and
  reads raise ``BackendDownError`` at once (a cached ``latest`` answer is still given). A
  recovery task probes the backend after a backoff (``spool.retry_initial_s`` doubling to
  ``spool.retry_max_s``); the first success closes the breaker and the spool is replayed
  once, in the background (a read arriving meanwhile waits for that replay, so it sees every
  earlier write). A spool left by a crash is replayed when the next process opens storage;
* sets aside a batch refused for any other reason (a constraint, bad data, a bug) in the
  backend's quarantine file (``gdpo.storage.quarantine``), logged at ERROR; the backend
  stays in use. An explicit batch's error is raised to its caller instead.

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
from gdpo.storage.breaker import Breaker, is_connection_error
from gdpo.storage.counters import Counters
from gdpo.storage.errors import CapabilityError, RecordValidationError, StorageConnectionError, UnknownKindError
from gdpo.storage.quarantine import append_quarantine, new_batch_id, quarantine_count, quarantine_path
from gdpo.storage.records import UTC, Record
from gdpo.storage.spool import Spool, SpoolError, check_encodable
from gdpo.storage.secrets import mask_secrets

log = logging.getLogger(__name__)

#: Kinds written through at once instead of waiting for a batch.
WRITE_THROUGH_KINDS = frozenset({"coordinator_decisions", "charging_sessions", "battery_selling_sessions",
                                 "daily_stats"})
#: Errors that say the call is wrong, not that the backend is down: raised to the caller.
PERMANENT_ERRORS = (RecordValidationError, CapabilityError, UnknownKindError)


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
    """The pipeline's view of one backend: its breaker, its spool and its quarantine."""

    name: str
    backend: StorageBackend
    spool: Spool | None
    breaker: Breaker
    pending: bool = False  # batches wait in the spool: new batches go there too (order)
    last_ok_at: float | None = None  # wall-clock time of the last successful write
    last_error: str | None = None
    last_error_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    drain_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    retry_task: asyncio.Task | None = None  # the recovery task: probes, then replays the spool
    opened: bool = True  # False: could not be opened at start; the recovery task opens it
    on_open: Any = None  # called with the backend once a deferred open succeeds

    def describe(self) -> dict[str, Any]:
        """State for health and the status file (reads the spool directory: blocking)."""
        return {"pending": self.pending, "last_write_ok_at": _iso(self.last_ok_at),
                "last_error": self.last_error, "last_error_at": _iso(self.last_error_at),
                "breaker": self.breaker.describe(),
                "quarantine": ({"file": str(quarantine_path(self.spool.directory)),
                                "batches": quarantine_count(self.spool.directory)}
                               if self.spool is not None else None),
                "spool": self.spool.describe() if self.spool is not None else None}


def _iso(t: float | None) -> str | None:
    return _dt.datetime.fromtimestamp(t, UTC).isoformat() if t is not None else None


def _describe_error(exc: BaseException) -> str:
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
            breaker = Breaker(name, initial_s=settings.retry_initial_s, max_s=settings.retry_max_s)
            self.lanes[name] = Lane(name, backend, spool, breaker)
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
        """Flush every buffer (spooling what cannot be written), replay a waiting spool once
        more unless the backend is known to be down, stop tasks."""
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
            self._timer = None
        try:
            await self.flush()
            for lane in self.lanes.values():  # a last replay (one probe, however long the backoff)
                if lane.pending and lane.breaker.is_closed:
                    await self.drain(lane)
                elif lane.pending and lane.breaker.allow(force=True):
                    await self._probe(lane)
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
        lane.breaker.failure(lane.last_error)
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
        """Make a read of ``kind`` see every earlier write: flush it; raise ``BackendDownError``
        at once while its backend is down; wait for a replay of its spool in progress."""
        await self.flush_kind(kind)
        await self._gate(self.lane_for(kind))

    async def _gate(self, lane: Lane) -> None:
        """Return when ``lane``'s backend may be used with nothing left in its spool; raise
        ``BackendDownError`` at once while its breaker is open (never waits a timeout)."""
        if not lane.breaker.is_closed:
            # a short command has no recovery task: a call after the backoff is the probe
            if self._background or not lane.breaker.allow() or not await self._probe(lane):
                raise lane.breaker.down_error()
        if lane.pending and lane.spool is not None:
            # the backend is back and its spool is being replayed: wait for that (in order)
            if not await self.drain(lane):
                if not lane.breaker.is_closed:
                    raise lane.breaker.down_error()
                raise StorageConnectionError(
                    f"backend {lane.name!r}: batches still wait in its spool {lane.spool.directory} "
                    f"(another process is replaying it); retry later")

    async def _deliver(self, kind: str, batch: Sequence[Record], *, explicit: bool) -> WriteResult:
        lane = self.lane_for(kind)
        if explicit:
            await self._gate(lane)
        else:
            if not lane.breaker.is_closed and not self._background and lane.breaker.allow():
                await self._probe(lane)
            if lane.pending or not lane.breaker.is_closed:
                if lane.spool is None:
                    raise lane.breaker.down_error()
                async with lane.lock:
                    if lane.pending or not lane.breaker.is_closed:
                        lane.pending = True
                        spooled = await self._spool(lane, kind, batch)
                        self._start_retry(lane)
                        return spooled
        started = time.perf_counter()
        try:
            result = await lane.backend.write_batch(kind, batch)
        except PERMANENT_ERRORS:
            raise
        except Exception as exc:
            if not is_connection_error(exc):
                if explicit or lane.spool is None:
                    raise
                return await self._quarantine(lane, kind, batch, exc)
            self._note_failure(lane, exc)
            if explicit or lane.spool is None:
                raise
            async with lane.lock:
                lane.pending = True
                spooled = await self._spool(lane, kind, batch)
            self._start_retry(lane)
            return spooled
        lane.last_ok_at = time.time()
        self.counters.add("batches")
        self._observe(lane.name, kind, len(batch), time.perf_counter() - started)
        return result

    async def _quarantine(self, lane: Lane, kind: str, batch: Sequence[Record], exc: BaseException) -> WriteResult:
        """Set a batch the backend refused (not an outage) aside in its quarantine file."""
        assert lane.spool is not None
        batch_id, error = new_batch_id(), _describe_error(exc)
        try:
            path = await asyncio.to_thread(append_quarantine, lane.spool.directory, batch_id=batch_id,
                                           backend=lane.name, kind=kind, records=list(batch), error=error)
        except OSError as err:
            self.counters.add("failed", len(batch))
            raise SpoolError(f"backend {lane.name!r} refused batch {batch_id} of {len(batch)} {kind} records "
                             f"({error}) and its quarantine file cannot be written: {err}") from None
        log.error("backend %s refused batch %s of %d %s records (%s); the batch is quarantined in %s "
                  "and the backend stays in use", lane.name, batch_id, len(batch), kind, error, path)
        self.counters.add("quarantined", len(batch))
        return WriteResult(kind, len(batch), None)

    def _observe(self, backend: str, kind: str, n: int, seconds: float) -> None:
        for observer in self.write_observers:
            try:
                observer(backend, kind, n, seconds)
            except Exception:  # an observer never costs a write
                log.exception("write observer %r failed", observer)

    def _note_failure(self, lane: Lane, exc: BaseException) -> None:
        """A connection-class failure: record it and open the breaker."""
        was_closed = lane.breaker.is_closed
        lane.last_error = _describe_error(exc)
        lane.last_error_at = time.time()
        lane.breaker.failure(lane.last_error)
        self._start_retry(lane)  # the recovery task probes it after the backoff
        if was_closed:
            log.warning("backend %s is down (%s); its batches go to the spool, calls fail fast, next try in %.1f s",
                        lane.name, lane.last_error, lane.breaker.retry_in_s())

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

    # -- recovering and replaying ---------------------------------------------------------
    def _start_retry(self, lane: Lane) -> None:
        if not self._background or (lane.retry_task is not None and not lane.retry_task.done()):
            return
        lane.retry_task = asyncio.create_task(self._retry_loop(lane), name=f"gdpo-storage-retry-{lane.name}")

    async def _retry_loop(self, lane: Lane) -> None:
        """Probe the backend whenever its backoff has passed; once it answers, replay its spool."""
        while lane.pending or not lane.breaker.is_closed:
            if lane.breaker.is_closed:
                if await self.drain(lane):
                    return
                if lane.breaker.is_closed:  # another process replays it: look again later
                    await asyncio.sleep(self.settings.retry_initial_s)
                continue
            await asyncio.sleep(lane.breaker.retry_in_s())
            if not lane.breaker.allow():  # another call is probing
                await asyncio.sleep(0.05)
                continue
            try:
                if await self._probe(lane):
                    return
            except Exception as exc:  # keep trying whatever happens
                lane.breaker.release_probe()
                log.warning("backend %s: recovery failed: %s", lane.name, _describe_error(exc))
            self.counters.add("retries")

    async def _probe(self, lane: Lane) -> bool:
        """The half-open probe: one round trip (or the deferred open). On success close the
        breaker and replay the spool; True when the backend is usable with nothing waiting."""
        try:
            if not lane.opened:
                await lane.backend.open()
                lane.opened = True
                if lane.on_open is not None:
                    lane.on_open(lane.backend)
            else:
                health = await lane.backend.health()
                if not health.ok:
                    raise StorageConnectionError(f"backend {lane.name}: health check failed: {health.detail}")
        except asyncio.CancelledError:
            lane.breaker.release_probe()
            raise
        except Exception as exc:
            self._note_failure(lane, exc)
            return False
        down_since = lane.breaker.down_since
        lane.breaker.success()
        log.warning("backend %s is back%s; %s", lane.name,
                    f" after {time.time() - down_since:.1f} s" if down_since else "",
                    "replaying its spool" if lane.pending else "nothing was spooled")
        if lane.pending:
            return await self.drain(lane)
        return True

    async def drain(self, lane: Lane) -> bool:
        """Replay the spool of ``lane`` in order; True when it is empty afterwards. A
        connection-class failure opens the breaker and ends the replay (the rest waits)."""
        if lane.spool is None:
            return True
        if not lane.opened:
            return False
        async with lane.drain_lock:
            if not lane.pending:
                return True
            fd = await asyncio.to_thread(lane.spool.try_replay_lock)
            if fd is None:  # another process replays it
                return not lane.spool.directory.is_dir() or await asyncio.to_thread(lane.spool.is_empty)
            try:
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
            finally:
                await asyncio.to_thread(lane.spool.release_replay_lock, fd)
        return False

    async def _replay_segment(self, lane: Lane, seg: Path) -> bool:
        batches = await asyncio.to_thread(lane.spool.read_segment, seg)
        for pos, b in enumerate(batches):
            started = time.perf_counter()
            try:
                await lane.backend.write_batch(b.kind, b.records)
            except Exception as exc:
                if is_connection_error(exc):
                    self._note_failure(lane, exc)
                    if pos:  # what is replayed leaves the segment (the counters stay exact)
                        await asyncio.to_thread(lane.spool.forget_head, seg, b.index)
                    return False
                await self._quarantine(lane, b.kind, b.records, exc)
            else:
                self.counters.add("replayed", len(b.records))
                self.counters.add("batches")
                lane.last_ok_at = time.time()
                self._observe(lane.name, b.kind, len(b.records), time.perf_counter() - started)
        await asyncio.to_thread(lane.spool.remove, seg)
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
