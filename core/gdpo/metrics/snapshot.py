"""What a scrape reads from storage, gathered asynchronously before the text is rendered.

Prometheus collectors are synchronous, so nothing here runs inside one: the metrics app
awaits :func:`read_snapshot` (async database reads, file reads in worker threads, every
part bounded by a timeout) and the collectors only format the :class:`StorageSnapshot`.

Reads go to the backend that owns each kind (``storage.backend_for``), not through the
write pipeline: a scrape never flushes a waiting batch nor replays a spool. Kinds of a
backend whose health round trip failed are not read (the scrape does not wait on it).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any

from gdpo.metrics.horizon import known_ahead_hours, tomorrow_known
from gdpo.prices.model import SOURCE_DAY_AHEAD
from gdpo.storage.aggregate import normalize_bound
from gdpo.storage.health import health_report

log = logging.getLogger(__name__)

#: The field that tells when the newest record of a kind was written (its time, or when fetched).
WRITTEN_AT = {"energy_data": "ts", "system_state": "ts", "coordinator_decisions": "ts",
              "price_forecasts": "fetched_at", "pv_forecasts": "made_at"}
DECISION_WINDOW = _dt.timedelta(hours=24)
PRICE_LOOKBACK = _dt.timedelta(hours=1)
PRICE_LOOKAHEAD = _dt.timedelta(days=3)


@dataclass
class PriceHorizon:
    """Known prices of one source as seen from the scrape."""

    ahead_hours: float
    tomorrow_known: bool


@dataclass
class StorageSnapshot:
    """Everything a scrape learned from storage (empty parts were not available)."""

    now: _dt.datetime
    health_ok: bool | None = None
    problems: int = 0
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> {"ok", "latency_ms"}
    spools: dict[str, dict[str, Any]] = field(default_factory=dict)     # name -> Spool.describe()
    written_at: dict[str, _dt.datetime] = field(default_factory=dict)   # kind -> newest stored write
    system_state: str | None = None
    prices: dict[str, PriceHorizon] = field(default_factory=dict)       # source -> horizon
    decisions_24h: dict[tuple[str, str], int] | None = None             # (decision_type, action) -> n
    errors: dict[str, str] = field(default_factory=dict)                # part -> why it is missing


async def _bounded(snapshot: StorageSnapshot, part: str, coro, timeout_s: float):
    try:
        return await asyncio.wait_for(coro, timeout_s)
    except asyncio.TimeoutError:
        snapshot.errors[part] = f"no answer within {timeout_s:g} s"
    except Exception as exc:  # a scrape reports what it could read
        snapshot.errors[part] = f"{type(exc).__name__}: {exc}"
    log.debug("metrics: %s unavailable: %s", part, snapshot.errors[part])
    return None


async def _latest(storage, kind: str):
    return await storage.backend_for(kind).latest(kind)


async def _read(storage, kind: str, start: _dt.datetime, end: _dt.datetime):
    backend = storage.backend_for(kind)
    return await backend.read_range(kind, normalize_bound(kind, start), normalize_bound(kind, end))


def _price_horizons(rows, now: _dt.datetime) -> dict[str, PriceHorizon]:
    by_source: dict[str, list] = {SOURCE_DAY_AHEAD: []}
    for r in rows:
        if (r.price_kind or "market") == "market":
            by_source.setdefault(r.source, []).append(r)
    return {source: PriceHorizon(known_ahead_hours(rs, now), tomorrow_known(rs, now))
            for source, rs in by_source.items()}


def _count_decisions(rows) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r.decision_type or "", r.action or "")
        out[key] = out.get(key, 0) + 1
    return out


async def read_snapshot(storage, now: _dt.datetime, *, timeout_s: float = 5.0) -> StorageSnapshot:
    """Read health, spools and the newest records of ``storage`` (see the module docstring)."""
    snap = StorageSnapshot(now=now)
    report = await _bounded(snap, "health", health_report(storage), timeout_s)
    if report is None:
        snap.health_ok = False
        snap.backends = {name: {"ok": False, "latency_ms": None} for name in storage.backends}
    else:
        snap.health_ok, snap.problems = bool(report["ok"]), len(report["problems"])
        snap.backends = {b["backend"]: {"ok": b["ok"], "latency_ms": b["latency_ms"]} for b in report["backends"]}
        snap.spools = report["spools"]
    up = {name for name, b in snap.backends.items() if b["ok"]}

    def readable(kind: str) -> bool:
        return storage.routes.get(kind) in up

    kinds = [k for k in WRITTEN_AT if readable(k)]
    jobs = {f"latest:{k}": _latest(storage, k) for k in kinds}
    if readable("price_forecasts"):
        jobs["prices"] = _read(storage, "price_forecasts", now - PRICE_LOOKBACK, now + PRICE_LOOKAHEAD)
    if readable("coordinator_decisions"):
        jobs["decisions"] = _read(storage, "coordinator_decisions", now - DECISION_WINDOW, now)
    results = await asyncio.gather(*(_bounded(snap, part, job, timeout_s) for part, job in jobs.items()))
    answers = dict(zip(jobs, results))
    for kind in kinds:
        record = answers[f"latest:{kind}"]
        at = getattr(record, WRITTEN_AT[kind], None) if record is not None else None
        if at is not None:
            snap.written_at[kind] = at
        if kind == "system_state" and record is not None:
            snap.system_state = record.state
    if answers.get("prices") is not None:
        snap.prices = _price_horizons(answers["prices"], now)
    if answers.get("decisions") is not None:
        snap.decisions_24h = _count_decisions(answers["decisions"])
    return snap
