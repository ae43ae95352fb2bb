"""The ``Storage`` facade: the one storage object of a process.

Components, the migration tool, benchmarks and tests all use this API; none of them
talks to a backend directly::

    async with open_storage(config) as storage:
        await storage.write("energy_data", records)
        rows = await storage.read("energy_data", start, end)

Records are validated here (mappings become record objects), routed to the backend that
owns their kind, and handed to it in one batch per call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from gdpo.storage import aggregate as agg
from gdpo.storage.backend import Capabilities, Health, StorageBackend, WriteResult
from gdpo.storage.errors import CapabilityError, StorageError
from gdpo.storage.records import KIND_NAMES, LOCAL_TZ_NAME, Record, make_records, record_class

SESSION_KINDS = ("coordinator_decisions", "charging_sessions", "battery_selling_sessions", "daily_stats")
TIMESERIES_KINDS = ("energy_data", "system_state", "price_forecasts", "pv_forecasts")


@dataclass(frozen=True)
class BackendContext:
    """What a backend factory learns besides its own options."""

    name: str
    timezone: str = LOCAL_TZ_NAME
    data_storage: Mapping[str, Any] | None = None


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
                await backend.open()
                self._opened.append(backend)
                served = backend.capabilities.kinds
                for kind, owner in self.routes.items():
                    if owner == name and kind not in served:
                        raise CapabilityError(f"backend {name!r} does not store {kind} (it stores "
                                              f"{', '.join(sorted(served))}); route {kind} elsewhere")
        except BaseException:
            await self.close()
            raise
        self._is_open = True
        return self

    async def close(self) -> None:
        """Flush and close every backend. Safe to call twice."""
        opened, self._opened = self._opened, []
        self._is_open = False
        errors = []
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
        """Validate and store records of one kind in one transaction; idempotent per natural key."""
        if isinstance(records, (Mapping, Record)):
            records = [records]
        batch = make_records(kind, records)
        if not batch:
            return WriteResult(kind, 0, 0)
        return await self.backend_for(kind).write_batch(kind, batch)

    async def read(self, kind: str, start: Any, end: Any, *, limit: int | None = None,
                   descending: bool = False) -> list[Record]:
        """Records of ``kind`` with ``start <= time < end``, oldest first (see ``descending``)."""
        s, e = agg.normalize_bound(kind, start), agg.normalize_bound(kind, end)
        if limit is not None and limit < 0:
            raise StorageError(f"{kind}: limit must be >= 0, got {limit}")
        return await self.backend_for(kind).read_range(kind, s, e, limit=limit, descending=descending)

    async def latest(self, kind: str) -> Record | None:
        """The newest record of ``kind`` (greatest time value), or None."""
        return await self.backend_for(kind).latest(kind)

    async def aggregate(self, kind: str, start: Any, end: Any, *, every: str,
                        fields: Mapping[str, str | Sequence[str]], tz: str = LOCAL_TZ_NAME) -> list[dict[str, Any]]:
        """Time-bucketed aggregates of numeric fields; see ``gdpo.storage.aggregate``."""
        backend = self.backend_for(kind)
        if not backend.capabilities.aggregate:
            raise CapabilityError(f"backend {backend.name!r} cannot aggregate")
        spec = agg.make_spec(kind, start, end, every, fields, tz)
        return await backend.aggregate(spec)

    async def delete_older_than(self, kind: str, cutoff: Any) -> int:
        """Delete records of ``kind`` older than ``cutoff``; returns how many were deleted."""
        backend = self.backend_for(kind)
        if not backend.capabilities.delete:
            raise CapabilityError(f"backend {backend.name!r} cannot delete")
        return await backend.delete_older_than(kind, agg.normalize_bound(kind, cutoff))

    async def flush(self) -> None:
        """Make every accepted write durable (the write pipeline drains here)."""
        return None

    async def health(self) -> list[Health]:
        """A real round trip to every backend."""
        return [await b.health() for b in self.backends.values()]

    async def stats(self) -> dict[str, Any]:
        """Per-backend statistics, and the routing."""
        return {"routes": dict(self.routes),
                "backends": {name: await b.stats() for name, b in self.backends.items()}}

    async def maintenance(self, *, vacuum: bool = False) -> dict[str, Any]:
        """Run each backend's maintenance (statistics, optional vacuum)."""
        await self.flush()
        return {name: await b.maintenance(vacuum=vacuum) for name, b in self.backends.items()}


def build_storage(config: Any = None) -> Storage:
    """Make (not open) the Storage described by a config: a Config, a ``data_storage``
    mapping, a YAML path, or None for the default config."""
    from gdpo.config import Config, load_config
    from gdpo.storage.plugins import get_backend

    if isinstance(config, Config):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = load_config(config, data_storage_only="data_storage" not in config)
    else:
        cfg = load_config(config)
    ds = cfg.data_storage
    routes = routes_for(ds)
    backends: dict[str, StorageBackend] = {}
    for name in dict.fromkeys(routes.values()):
        info = get_backend(name)
        backends[name] = info.factory(ds.get(name) or {}, BackendContext(name=name, data_storage=ds))
    return Storage(backends, routes, config=cfg)


class open_storage:
    """``async with open_storage(config) as storage``: make, open, flush and close."""

    def __init__(self, config: Any = None):
        self._config = config
        self._storage: Storage | None = None

    async def __aenter__(self) -> Storage:
        self._storage = build_storage(self._config)
        return await self._storage.open()

    async def __aexit__(self, *exc) -> None:
        if self._storage is not None:
            await self._storage.__aexit__(*exc)
