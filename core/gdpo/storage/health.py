"""The storage health check behind ``gdpo health``.

Healthy means: every backend answers a real round trip; no running writer (a process that
publishes a status file, see ``gdpo.storage.status``) has gone longer than
``health.max_write_age_s`` without a successful write; and no spool is at 90 % or more of
``spool.max_bytes``. A non-empty spool below that is reported, not counted as unhealthy
(the backend is catching up).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import time
from typing import Any

from gdpo.storage.spool import Spool
from gdpo.storage.status import read_status_files

SPOOL_ALARM_FRACTION = 0.9


def _age_s(iso: str | None, now: float) -> float | None:
    if not iso:
        return None
    return now - _dt.datetime.fromisoformat(iso).timestamp()


def _writer_problems(writer: dict[str, Any], max_age_s: float, now: float) -> list[str]:
    problems = []
    backends = writer.get("backends") or {}
    oks = [_age_s(b.get("last_write_ok_at"), now) for b in backends.values()]
    oks = [a for a in oks if a is not None]
    age = min(oks) if oks else _age_s(writer.get("started_at"), now)
    writer["last_write_age_s"] = None if age is None else round(age, 1)
    if age is not None and age > max_age_s and (writer.get("counters") or {}).get("writes", 0) > 0:
        errors = "; ".join(f"{n}: {b['last_error']}" for n, b in backends.items() if b.get("last_error"))
        problems.append(f"process {writer.get('pid')} has not written successfully for {age:.0f} s "
                        f"(limit {max_age_s:.0f} s){': ' + errors if errors else ''}")
    return problems


def _spools(storage) -> dict[str, dict[str, Any]]:
    out = {}
    for name, lane in storage.pipeline.lanes.items():
        if lane.spool is not None:
            out[name] = Spool(lane.spool.directory, max_bytes=lane.spool.max_bytes).describe()
    return out


async def health_report(storage) -> dict[str, Any]:
    """``{"ok", "problems", "backends", "writers", "spools"}`` for an open Storage."""
    problems: list[str] = []
    backends = []
    for h in await storage.health():
        backends.append({"backend": h.backend, "ok": h.ok, "detail": h.detail, "latency_ms": h.latency_ms})
        if not h.ok:
            problems.append(f"backend {h.backend}: {h.detail or 'round trip failed'}")
    now = time.time()
    writers = await asyncio.to_thread(read_status_files, storage.data_dir)
    max_age = float(storage.health_settings["max_write_age_s"])
    for w in writers:
        if w["alive"] and w.get("pid") != os.getpid():
            problems.extend(_writer_problems(w, max_age, now))
    spools = await asyncio.to_thread(_spools, storage)
    for name, sp in spools.items():
        if sp["bytes"] >= SPOOL_ALARM_FRACTION * sp["max_bytes"]:
            problems.append(f"spool of backend {name} holds {sp['bytes']} bytes, "
                            f"{100 * sp['bytes'] / sp['max_bytes']:.0f}% of its bound {sp['max_bytes']}")
    return {"ok": not problems, "problems": problems, "backends": backends,
            "writers": writers, "spools": spools}

