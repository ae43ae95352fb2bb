"""Rollups are data: ``gdpo migrate`` and ``gdpo export`` copy them and validate the copy.

After retention deletes raw ``energy_data``, the hourly and daily rollups
(``gdpo.storage.rollups``) are all that is left of those days; a migration that copied the
record kinds only would silently shorten the history. Each store key (``energy_data``
hourly, ``energy_data@1d`` local days) is read from the source Storage's rollup store (a
backend's own, such as a legacy tree's rollup file, or the sidecar) in time windows, compared with the target's
rollups, and what differs or is missing is written. Validation reads the target's rollups
back and compares count and checksum with the source's; the report has a ``rollups``
section with ``read``, ``written``, ``already_present``, ``in_target`` and ``match``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from gdpo.storage import Rollup, Storage
from gdpo.storage.rollups import HOUR, MemoryRollupStore, base_kind, rollup_keys

WINDOW = _dt.timedelta(days=92)  # rollups read and compared per window (about 2,200 hours)


def rollup_digest(r: Rollup) -> bytes:
    """A digest of one rollup: its start, sample count and every statistic, bit for bit."""
    h = hashlib.blake2b(digest_size=16)
    h.update(r.start.isoformat().encode())
    h.update(r.samples.to_bytes(8, "little", signed=True))
    h.update(r.to_blob())
    return h.digest()


@dataclass
class RollupStats:
    """Counts of one rollup store key."""

    read: int = 0
    written: int = 0
    already_present: int = 0
    in_target: int | None = None
    match: bool | None = None
    digests: dict[_dt.datetime, bytes] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The counts shown in the report."""
        return {"read": self.read, "written": self.written, "already_present": self.already_present,
                "in_target": self.in_target, "match": self.match}


class RollupSource:
    """The rollups of a migration source Storage (its backend's own, or its sidecar store)."""

    def __init__(self, storage: Storage):
        self.storage = storage

    async def bounds(self, key: str) -> tuple[_dt.datetime, _dt.datetime] | None:
        """Start of the oldest and newest rollup under ``key``, or None."""
        return await self.storage.rollup_store(base_kind(key)).rollup_bounds(key)

    async def read(self, key: str, start: _dt.datetime, end: _dt.datetime) -> list[Rollup]:
        """Rollups under ``key`` with ``start <= rollup.start < end``, oldest first."""
        return await self.storage.rollup_store(base_kind(key)).read_rollups(key, start, end)


class RollupCopy:
    """Copies every rollup key from a source to a target Storage (or counts, on a dry run)."""

    def __init__(self, target: Storage | None, dry_run: bool):
        self.target, self.dry_run = target, dry_run
        self.stats = {key: RollupStats() for key in rollup_keys()}
        self.notes: list[str] = []

    def _store(self, key: str):
        return self.target.rollup_store(base_kind(key)) if self.target is not None else None

    async def run(self, source: RollupSource, start: _dt.datetime, end: _dt.datetime) -> None:
        """Copy the rollups of every key with a start in ``[start, end)``."""
        for key, st in self.stats.items():
            bounds = await source.bounds(key)
            if bounds is None:
                continue
            t, stop = max(start, bounds[0]), min(end, bounds[1] + HOUR)
            while t < stop:
                upper = min(t + WINDOW, stop)
                await self._copy(key, st, await source.read(key, t, upper), t, upper)
                t = upper
        store = self._store(rollup_keys()[0])
        if isinstance(store, MemoryRollupStore) and any(st.read for st in self.stats.values()):
            self.notes.append("the target keeps rollups only in memory (its backend has no rollup table and no "
                              "data_directory is set): set data_storage.data_directory to keep them")

    async def _copy(self, key: str, st: RollupStats, rollups: list[Rollup], lo: _dt.datetime,
                    hi: _dt.datetime) -> None:
        if not rollups:
            return
        st.read += len(rollups)
        store = self._store(key)
        existing = {r.start: rollup_digest(r) for r in await store.read_rollups(key, lo, hi)} if store else {}
        todo = []
        for r in rollups:
            digest = rollup_digest(r)
            st.digests[r.start] = digest
            if existing.get(r.start) == digest:
                st.already_present += 1
            else:
                todo.append(r)
        if todo and not self.dry_run:
            await store.write_rollups(key, todo)
        st.written += len(todo)

    async def validate(self) -> bool:
        """Read every copied rollup back from the target; True when counts and digests match."""
        ok = True
        for key, st in self.stats.items():
            if not st.digests:
                st.in_target = 0
                continue
            store = self._store(key)
            found = 0
            first, last = min(st.digests), max(st.digests)
            t = first
            while t <= last:
                upper = min(t + WINDOW, last + HOUR)
                for r in await store.read_rollups(key, t, upper):
                    if st.digests.get(r.start) == rollup_digest(r):
                        found += 1
                t = upper
            st.in_target = found
            st.match = found == len(st.digests) and not isinstance(store, MemoryRollupStore)
            ok = ok and st.match
        return ok

    def report(self) -> dict[str, Any]:
        """The ``rollups`` section of the report (keys with no rollup are left out)."""
        return {key: st.as_json() for key, st in self.stats.items() if st.read or st.in_target}
