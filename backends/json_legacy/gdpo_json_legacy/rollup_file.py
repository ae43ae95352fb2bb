"""The optional rollup methods of the json_legacy backend (``capabilities.rollups``): the
rollups live in ``gdpo-rollups.ndjson`` at the tree's root (see ``gdpo_json_legacy.rollup_ndjson``),
read once and kept in memory while the backend is open, rewritten whole on each write."""

from __future__ import annotations

import asyncio
import datetime as _dt
from typing import Any, Sequence

from gdpo.storage import Rollup

from gdpo_json_legacy.rollup_ndjson import read_rollup_file, write_rollup_file


async def _loaded(backend: Any) -> dict[str, dict[_dt.datetime, Rollup]]:
    if backend._rollups is None:
        backend._rollups = await asyncio.to_thread(read_rollup_file, backend.tree)
    return backend._rollups


async def write_rollups(backend: Any, kind: str, rollups: Sequence[Rollup]) -> int:
    """Upsert rollups on (kind, start) and rewrite the file (atomically)."""
    if not rollups:
        return 0
    async with backend._lock:
        current = await _loaded(backend)
        merged = {k: dict(v) for k, v in current.items()}
        rows = merged.setdefault(kind, {})
        for r in rollups:
            rows[r.start] = Rollup(kind, r.start, r.samples, r.values)
        await asyncio.to_thread(write_rollup_file, backend.tree, merged)
        backend._rollups = merged
    return len(rollups)


async def read_rollups(backend: Any, kind: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
    """Rollups with ``start <= rollup.start < end``, oldest first."""
    rows = (await _loaded(backend)).get(kind) or {}
    return [rows[t] for t in sorted(rows) if start <= t < end]


async def rollup_bounds(backend: Any, kind: str) -> tuple[_dt.datetime, _dt.datetime] | None:
    """Start of the oldest and newest rollup of ``kind``, or None."""
    rows = (await _loaded(backend)).get(kind)
    return (min(rows), max(rows)) if rows else None
