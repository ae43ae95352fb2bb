"""The ``Storage`` facade: the one storage object of a process.

Components, the migration tool, benchmarks and tests all use this API; none of them
talks to a backend directly::

    async with open_storage(config) as storage:
        await storage.write("energy_data", records)
        rows = await storage.read("energy_data", start, end)

Records are validated here (mappings become record objects) and routed to the backend that
owns their kind. Between the API and the backends sit the storage service parts (see
docs/storage-service.md): the write pipeline (batching, write-through, the outage spool;
``gdpo.storage.pipeline``), the TTL cache (``cache``), hourly rollups and retention
(``rollups``, ``retention``), counters (``counters``) and the status file (``status``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from gdpo.storage import aggregate as agg
from gdpo.storage.backend import Capabilities, Health, StorageBackend, WriteResult
from gdpo.storage.cache import CACHED_LATEST_KINDS, TTLCache
from gdpo.storage.counters import Counters
from gdpo.storage.errors import CapabilityError, StorageConnectionError, StorageError
from gdpo.storage.pipeline import PipelineSettings, WritePipeline
from gdpo.storage.records import KIND_NAMES, LOCAL_TZ_NAME, UTC, Record, make_records, record_class
from gdpo.storage.retention import RetentionPolicy, retention_schedule
from gdpo.storage.rollups import (HOUR, QUARTER, ROLLUP_KINDS, answers_from_quarters, answers_from_rollups, combine,
                                  partial_spec, quarter_kind, rollup_store_for, rollups_for)
from gdpo.storage.settings import storage_settings
from gdpo.storage.status import resolve_data_dir, resolve_spool_dir, status_path, write_status

log = logging.getLogger(__name__)

SESSION_KINDS = ("coordinator_decisions", "charging_sessions", "battery_selling_sessions", "daily_stats")
TIMESERIES_KINDS = ("energy_data", "system_state", "price_forecasts", "pv_forecasts")


@dataclass(frozen=True)
class BackendContext:
    """What a backend factory learns besides its own options."""

    name: str
    timezone: str = LOCAL_TZ_NAME
    data_storage: Mapping[str, Any] | None = None
    #: False for read-only commands: a backend whose database does not exist yet raises
    #: ``StorageMissingError`` naming the location instead of creating an empty one.
    create: bool = True


def routes_for(data_storage: Mapping[str, Any]) -> dict[str, str]:
    """Which backend owns each record kind under this ``data_storage`` config."""
    backend = data_storage.get("backend", "sqlite")
    if backend != "hybrid":
        return {kind: backend for kind in KIND_NAMES}
    hybrid = data_storage.get("hybrid") or {}
    routes = {k: hybrid.get("sessions", "sqlite") for k in SESSION_KINDS}
    routes.update({k: hybrid.get("timeseries", "timescaledb") for k in TIMESERIES_KINDS})
    routes.update(hybrid.get("routes") or {})
    return routes


class Storage:
    """The storage facade over one backend, or several routed by record kind."""

    def __init__(self, backends: Mapping[str, StorageBackend], routes: Mapping[str, str], *, config=None):
        missing = [k for k in KIND_NAMES if k not in routes]
        if missing:
            raise StorageError(f"no backend routed for record kinds: {', '.join(missing)}")
        self.backends: dict[str, StorageBackend] = dict(backends)
        self.routes: dict[str, str] = dict(routes)
        self.config = config
        self._opened: list[StorageBackend] = []
        self._is_open = False
        ds = config.data_storage if config is not None else {}
        self.data_dir = resolve_data_dir(ds)
        self.counters = Counters()
        self.cache = TTLCache((ds.get("cache") or {}).get("ttl_s", 60.0), self.counters)
        self.pipeline = WritePipeline(self.backends, self.routes,
                                      PipelineSettings.from_config(ds, resolve_spool_dir(ds, self.data_dir)),
                                      self.counters)
        self.retention_policy = RetentionPolicy.from_config(ds)
        self.health_settings = {"max_write_age_s": 600.0, "status_interval_s": 10.0, **(ds.get("health") or {})}
        #: Background work (flush timer, retries, status file, retention job, signal handlers)
        #: runs only in a Storage opened with ``background=True`` (the default).
        self.background = True
        self.started_at = time.time()
        self._tasks: list[asyncio.Task] = []
        self._rollup_stores: dict[str, Any] = {}
        self._signals: list[int] = []

    @classmethod
    def from_backend(cls, backend: StorageBackend) -> "Storage":
        """A Storage that sends every kind to one already-made backend."""
        return cls({backend.name: backend}, {k: backend.name for k in KIND_NAMES})

    # -- life cycle ----------------------------------------------------------------
    async def open(self) -> "Storage":
        """Open every backend (schema migrations included); on failure close what opened."""
        if self._is_open:
            return self
        try:
            for name, backend in self.backends.items():
                served = backend.capabilities.kinds
                for kind, owner in self.routes.items():
                    if owner == name and kind not in served:
                        raise CapabilityError(f"backend {name!r} does not store {kind} (it stores "
                                              f"{', '.join(sorted(served))}); route {kind} elsewhere")
                try:
                    await backend.open()
                except StorageConnectionError as exc:
                    # a long-running process starts anyway: the backend's writes are spooled
                    # and it is opened by the retry task once it can be reached
                    # (only where the spool can take its writes: not a read-only file system)
                    spool = self.pipeline.lanes[name].spool
                    if not (self.background and spool is not None and await asyncio.to_thread(spool.writable)):
                        raise
                    self.pipeline.defer_open(name, exc, on_open=self._opened.append)
                    continue
                self._opened.append(backend)
            await self.pipeline.start(background=self.background)
        except BaseException:
            await self.close()
            raise
        self._is_open = True
        if self.background:
            self._start_background()
        return self

    def _start_background(self) -> None:
        if self.data_dir is not None:
            self._tasks.append(asyncio.create_task(self._publish_status(), name="gdpo-storage-status"))
        if self.retention_policy.schedule:
            self._tasks.append(asyncio.create_task(retention_schedule(self, self.retention_policy),
                                                   name="gdpo-storage-retention"))
        self._install_signal_handlers()

    def _install_signal_handlers(self) -> None:
        """Flush on SIGTERM/SIGINT when nobody else handles them, then let the signal act."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(sig) not in (signal.SIG_DFL, signal.default_int_handler):
                continue  # the application (or asyncio.run) handles it and closes storage
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._signals.append(sig)

    def _remove_signal_handlers(self) -> None:
        signals, self._signals = self._signals, []
        if not signals:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for sig in signals:
            loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        async def flush_then_resend():
            try:
                await self.pipeline.flush()
            except Exception as exc:
                log.error("flush on signal %d failed: %s", sig, exc)
            self._remove_signal_handlers()
            os.kill(os.getpid(), sig)

        self._tasks.append(asyncio.get_running_loop().create_task(flush_then_resend()))

    def status(self) -> dict[str, Any]:
        """This process's status as published in its status file (blocking: reads the spool)."""
        return {"pid": os.getpid(), "started_at": _iso(self.started_at), "updated_at": _iso(time.time()),
                "routes": dict(self.routes), "counters": self.counters.snapshot(), **self.pipeline.describe()}

    async def _publish_status(self) -> None:
        path = status_path(self.data_dir)
        warned = False
        while True:
            try:
                status = await asyncio.to_thread(self.status)
                await asyncio.to_thread(write_status, path, status)
            except OSError as exc:
                if not warned:
                    log.warning("cannot write the storage status file %s: %s", path, exc)
                    warned = True
            await asyncio.sleep(self.health_settings["status_interval_s"])

    async def close(self) -> None:
        """Flush (spooling what cannot be written) and close every backend. Safe to call twice."""
        errors = []
        self._remove_signal_handlers()
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._opened:
            try:
                await self.pipeline.stop()
            except Exception as exc:
                errors.append(exc)
        if self.background and self.data_dir is not None and tasks:
            try:
                await asyncio.to_thread(_unlink, status_path(self.data_dir))
            except OSError:
                pass
        for store in self._rollup_stores.values():
            if store is not None and not isinstance(store, StorageBackend) and hasattr(store, "close"):
                store.close()
        self._rollup_stores.clear()
        opened, self._opened = self._opened, []
        self._is_open = False
        for backend in reversed(opened):
            try:
                await backend.close()
            except Exception as exc:  # close the others regardless
                errors.append(exc)
        if errors:
            raise errors[0]

    async def __aenter__(self) -> "Storage":
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        if exc[0] is None:
            await self.flush()
        await self.close()

    # -- routing -------------------------------------------------------------------
    def backend_for(self, kind: str) -> StorageBackend:
        """The backend that owns ``kind``."""
        record_class(kind)  # unknown kinds raise a clear error
        return self.backends[self.routes[kind]]

    @property
    def capabilities(self) -> Capabilities:
        """What every backend of this storage can do (the weakest of each flag)."""
        caps = None
        for b in self.backends.values():
            caps = b.capabilities if caps is None else caps.intersect(b.capabilities)
        return caps or Capabilities()

    # -- the API -------------------------------------------------------------------
    async def write(self, kind: str, records: Iterable[Mapping[str, Any] | Record] | Mapping[str, Any] | Record) -> WriteResult:
        """Validate and store records of one kind; idempotent per natural key.

        A call with fewer than ``batch.size`` records of a time-series kind is buffered and
        written with others in one batch (``inserted`` is then None); sessions, decisions and
        daily stats are written through; a call of ``batch.size`` records or more is written
        at once in one transaction. See ``gdpo.storage.pipeline``.
        """
        if isinstance(records, (Mapping, Record)):
            records = [records]
        batch = make_records(kind, records)
        self.backend_for(kind)
        if not batch:
            return WriteResult(kind, 0, 0)
        self.cache.invalidate(kind)
        try:
            return await self.pipeline.write(kind, batch)
        finally:
            # again once the records are buffered or stored: a latest() that loaded while this
            # write was on its way (before its records were in the buffer) must not stay cached
            self.cache.invalidate(kind)

    async def read(self, kind: str, start: Any, end: Any, *, limit: int | None = None,
                   descending: bool = False) -> list[Record]:
        """Records of ``kind`` with ``start <= time < end``, oldest first (see ``descending``)."""
        s, e = agg.normalize_bound(kind, start), agg.normalize_bound(kind, end)
        if limit is not None and limit < 0:
            raise StorageError(f"{kind}: limit must be >= 0, got {limit}")
        await self.pipeline.before_read(kind)
        return await self.backend_for(kind).read_range(kind, s, e, limit=limit, descending=descending)

    async def latest(self, kind: str) -> Record | None:
        """The newest record of ``kind`` (greatest time value), or None.

        The answer for ``energy_data`` (the current reading) and ``price_forecasts`` (the
        latest price) is cached for ``cache.ttl_s`` seconds, until the next write of the kind;
        it is given from the cache while the backend is down. Other reads raise
        ``BackendDownError`` at once while the backend's breaker is open.
        """
        backend = self.backend_for(kind)

        async def load():
            await self.pipeline.before_read(kind)
            return await backend.latest(kind)

        if kind in CACHED_LATEST_KINDS:
            # a fresh cached answer is given without touching the backend (also while it is down)
            return await self.cache.get_or_load(("latest", kind), load, (kind,))
        return await load()

    async def aggregate(self, kind: str, start: Any, end: Any, *, every: str,
                        fields: Mapping[str, str | Sequence[str]], tz: str = LOCAL_TZ_NAME) -> list[dict[str, Any]]:
        """Time-bucketed aggregates of numeric fields; see ``gdpo.storage.aggregate``."""
        backend = self.backend_for(kind)
        if not backend.capabilities.aggregate:
            raise CapabilityError(f"backend {backend.name!r} cannot aggregate")
        spec = agg.make_spec(kind, start, end, every, fields, tz)
        await self.pipeline.before_read(kind)
        if kind in ROLLUP_KINDS and self.retention_policy.rollups:
            hourly = answers_from_rollups(every)
            key, width = (kind, HOUR) if hourly else (quarter_kind(kind), QUARTER)
            if hourly or answers_from_quarters(every):
                store = self.rollup_store(kind)
                bounds = await store.rollup_bounds(key)
                if bounds is not None and spec.start < bounds[1] + width:
                    # older part from rollups, newer part from raw samples, merged per bucket
                    boundary = min(bounds[1] + width, spec.end)
                    rollups = (await rollups_for(store, spec, boundary) if hourly
                               else await store.read_rollups(key, spec.start, boundary))
                    raw = await backend.aggregate(partial_spec(spec, boundary)) if boundary < spec.end else []
                    return combine(spec, rollups, raw)
        return await backend.aggregate(spec)

    def rollup_store(self, kind: str) -> Any:
        """Where hourly rollups of ``kind`` are kept (see ``gdpo.storage.rollups``)."""
        name = self.routes[kind]
        if name not in self._rollup_stores:
            self._rollup_stores[name] = rollup_store_for(self.backends[name], self.data_dir)
        return self._rollup_stores[name]

    async def delete_older_than(self, kind: str, cutoff: Any) -> int:
        """Delete records of ``kind`` older than ``cutoff``; returns how many were deleted."""
        backend = self.backend_for(kind)
        if not backend.capabilities.delete:
            raise CapabilityError(f"backend {backend.name!r} cannot delete")
        await self.pipeline.before_read(kind)
        self.cache.invalidate(kind)
        return await backend.delete_older_than(kind, agg.normalize_bound(kind, cutoff))

    async def flush(self) -> None:
        """Make every accepted write durable: on return each record written before is
        committed in its backend or fsync'd in the outage spool."""
        await self.pipeline.flush()

    async def health(self) -> list[Health]:
        """A real round trip to every backend."""
        return [await b.health() for b in self.backends.values()]

    async def stats(self) -> dict[str, Any]:
        """Per-backend statistics, and the routing."""
        await self.pipeline.flush()
        return {"routes": dict(self.routes),
                "backends": {name: await b.stats() for name, b in self.backends.items()},
                "counters": self.counters.snapshot(),
                "pipeline": await asyncio.to_thread(self.pipeline.describe)}

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """Run each backend's maintenance (statistics, optional vacuum)."""
        await self.flush()
        return {name: await b.maintenance(vacuum=vacuum) for name, b in self.backends.items()}


def build_storage(config: Any = None, *, background: bool = True, create: bool = True) -> Storage:
    """Make (not open) the Storage described by a config: :class:`StorageSettings`, a config
    object with ``storage_settings()`` (``gdpo.config.Config``), or what the application's
    config loader reads (a ``data_storage`` mapping, a YAML path, None for the default
    config; see :func:`gdpo.storage.settings.storage_settings`). ``background=False`` makes a
    Storage for a short command: no flush timer, retry task, status file, retention job or
    signal handlers (writes are still batched and flushed on close). ``create=False`` (a
    read-only command) never creates a database: a missing one raises ``StorageMissingError``."""
    from gdpo.storage.plugins import get_backend

    cfg = storage_settings(config)
    ds = cfg.data_storage
    routes = routes_for(ds)
    backends: dict[str, StorageBackend] = {}
    for name in dict.fromkeys(routes.values()):
        info = get_backend(name)
        backends[name] = info.factory(ds.get(name) or {}, BackendContext(name=name, data_storage=ds, create=create))
    storage = Storage(backends, routes, config=cfg)
    storage.background = background
    return storage


class open_storage:
    """``async with open_storage(config) as storage``: make, open, flush and close."""

    def __init__(self, config: Any = None, *, background: bool = True, create: bool = True):
        self._config = config
        self._background = background
        self._create = create
        self._storage: Storage | None = None

    async def __aenter__(self) -> Storage:
        # the config's YAML, the plugin entry points and the backends' paths are read in a
        # worker thread: nothing here blocks the event loop
        self._storage = await asyncio.to_thread(build_storage, self._config, background=self._background,
                                                create=self._create)
        return await self._storage.open()

    async def __aexit__(self, *exc) -> None:
        if self._storage is not None:
            await self._storage.__aexit__(*exc)


def _iso(t: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(t, UTC).isoformat()


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
