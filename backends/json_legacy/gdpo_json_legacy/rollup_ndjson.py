"""Rollups in a legacy tree: the file ``gdpo-rollups.ndjson`` at the tree's root.

A legacy tree has no place for the storage service's hourly and daily rollups (what is
left of raw ``energy_data`` after retention), so ``gdpo export`` and the ``json_legacy``
backend keep them in one file beside ``out/`` and ``data/``; it is not a ``*.json`` file,
so neither the importer nor the old system reads it as a legacy file. One JSON object per
line, oldest first per key::

    {"kind": "energy_data", "start": "2025-10-24T20:00:00+00:00", "samples": 60,
     "stats": {"pv_power_w": [60, 81234.5, 0.0, 3120.0, 0.0, 2950.0], ...}}

``kind`` is the store key (``energy_data`` hourly, ``energy_data@1d`` local days);
``stats`` holds ``[n, sum, min, max, first, last]`` of each field that had values (JSON
numbers round-trip exactly, so a rollup comes back bit for bit).
"""

from __future__ import annotations

import datetime as _dt
import struct
from pathlib import Path
from typing import Iterable

from gdpo.storage import Rollup, StorageError, jsontext

from gdpo_json_legacy.tree import LegacyTree
from gdpo_json_legacy.writing import atomic_write

ROLLUP_FILE = "gdpo-rollups.ndjson"


def rollup_path(tree: LegacyTree) -> Path:
    """Where the rollups of ``tree`` are kept."""
    return tree.root / ROLLUP_FILE


def read_rollup_file(tree: LegacyTree) -> dict[str, dict[_dt.datetime, Rollup]]:
    """The rollups of ``tree`` by store key and start (empty when the file is missing; blocking)."""
    path = rollup_path(tree)
    out: dict[str, dict[_dt.datetime, Rollup]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise StorageError(f"json_legacy: cannot read {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = jsontext.loads(line)
            start = _dt.datetime.fromisoformat(item["start"])
            if start.tzinfo is None:
                raise ValueError("start has no UTC offset")
            rollup = Rollup.from_stats(item["kind"], start, int(item["samples"]), item["stats"])
        except (ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
            raise StorageError(f"json_legacy: {path} line {number} is not a rollup: {exc}") from None
        out.setdefault(rollup.kind, {})[rollup.start] = rollup
    return out


def render_rollups(rollups: Iterable[Rollup]) -> bytes:
    """The file content for ``rollups`` (sorted by key, then start)."""
    lines = []
    for r in sorted(rollups, key=lambda r: (r.kind, r.start)):
        lines.append(jsontext.dumps({"kind": r.kind, "start": r.start.isoformat(), "samples": r.samples,
                                     "stats": r.stats}))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def write_rollup_file(tree: LegacyTree, by_key: dict[str, dict[_dt.datetime, Rollup]]) -> None:
    """Replace the rollup file of ``tree`` atomically (blocking)."""
    atomic_write(rollup_path(tree), render_rollups(r for rows in by_key.values() for r in rows.values()))
