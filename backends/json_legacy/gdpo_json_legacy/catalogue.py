"""What the json_legacy backend knows about its tree: file names, and per file what it holds.

Nothing here keeps the records of the tree. Made on open from the directory listing alone
(no file is read), a :class:`Catalogue` learns on its first query, reading each file once,
file by file:

* for the kinds whose natural key includes their time (energy data, states, forecasts, daily
  stats): the time span each file covers, per kind; every version of such a record has the
  same time, so a range read needs only the files whose span overlaps it;
* for the kinds keyed by an id (decisions, charging and selling sessions: their time may
  change between versions): where each id's winning version lives, and its time.

Reads then open only the files they need, in read order (a later file wins; the
composite-era layout files are read last), keeping the records of a few recent files.
Every method blocks: the backend calls them in a worker thread, one at a time.
"""

from __future__ import annotations

import datetime as _dt
from collections import OrderedDict
from typing import Iterable

from gdpo.storage import KIND_NAMES, Record, record_class

from gdpo_json_legacy.reading import read_legacy_file
from gdpo_json_legacy.tree import LegacyTree
from gdpo_json_legacy.writing import is_layout_file

CACHED_FILES = 8  # records of the last few files read are kept (consecutive windows read the same files)


def order_key(rel: str) -> tuple[bool, str]:
    """Where a file comes in read order (later wins): other legacy files by path, then the
    composite-era layout files by path (as ``gdpo_json_legacy.writing.read_order``)."""
    return (is_layout_file(rel), rel)


def time_keyed(kind: str) -> bool:
    """True when the natural key of ``kind`` includes its time field."""
    spec = record_class(kind).SPEC
    return spec.time_field in spec.key


def after(t):
    """The smallest bound above ``t`` (a day for dates, a microsecond for datetimes)."""
    if isinstance(t, _dt.datetime):
        return t + _dt.timedelta(microseconds=1)
    return t + _dt.timedelta(days=1)


def _by_time(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (r.time, r.key))


class Catalogue:
    """The files of one legacy tree and where their records are (see the module docstring)."""

    def __init__(self, tree: LegacyTree):
        self.tree = tree
        self.files: dict[str, int] = {rel: size for rel, _, size in tree.entries()}  # names and sizes only
        self.spans: dict[str, dict[str, list]] = {}  # rel -> kind -> [first time, last time]
        self.winners: dict[str, dict[tuple, tuple]] = {k: {} for k in KIND_NAMES if not time_keyed(k)}
        # time-keyed records written by this process to a file other than the one read order
        # would pick (rare: another file covering the same time holds the key too)
        self.pinned: dict[str, dict[tuple, tuple]] = {k: {} for k in KIND_NAMES if time_keyed(k)}
        self.quarantined: dict[str, str] = {}
        self._summarised = False
        self._cache: OrderedDict[str, list[Record]] = OrderedDict()

    # -- learning the tree -------------------------------------------------------------
    def ensure_summaries(self) -> None:
        """Read every file not yet summarised, one at a time in read order (first query only)."""
        if self._summarised:
            return
        for rel in sorted(self.files, key=order_key):
            if rel not in self.spans:
                self._summarise(rel, self._load(rel))
        self._summarised = True

    def _load(self, rel: str) -> list[Record]:
        outcome = read_legacy_file(self.tree.root / rel, rel)
        if outcome.disposition == "quarantine":
            self.quarantined[rel] = outcome.reason or ""
        else:
            self.quarantined.pop(rel, None)
        return outcome.records

    def _summarise(self, rel: str, records: list[Record]) -> None:
        ok = order_key(rel)
        spans: dict[str, list] = {}
        for r in records:
            kind, t = r.KIND, r.time
            span = spans.get(kind)
            if span is None:
                spans[kind] = [t, t]
            elif t < span[0]:
                span[0] = t
            elif t > span[1]:
                span[1] = t
            if kind in self.winners:
                winner = self.winners[kind].get(r.key)
                if winner is None or winner[1] <= ok:  # the file later in read order wins
                    self.winners[kind][r.key] = (t, ok)
        self.spans[rel] = spans

    def _records(self, rel: str) -> list[Record]:
        records = self._cache.get(rel)
        if records is not None:
            self._cache.move_to_end(rel)
            return records
        records = self._load(rel)
        self._cache[rel] = records
        while len(self._cache) > CACHED_FILES:
            self._cache.popitem(last=False)
        return records

    def _candidates(self, kind: str, start, end) -> list[str]:
        """Files that may hold ``kind`` records with ``start <= time < end``, in read order."""
        found = [rel for rel, spans in self.spans.items()
                 if kind in spans and spans[kind][0] < end and spans[kind][1] >= start]
        return sorted(found, key=order_key)

    # -- reading -------------------------------------------------------------------------
    def _collect(self, kind: str, start, end) -> list[Record]:
        """Every winning record of ``kind`` with ``start <= time < end``, oldest first."""
        merged: dict[tuple, Record] = {}
        if kind in self.winners:
            wanted = {key: ok for key, (t, ok) in self.winners[kind].items() if start <= t < end}
            for ok in sorted(set(wanted.values())):
                for r in self._records(ok[1]):
                    if r.KIND == kind and wanted.get(r.key) == ok:
                        merged[r.key] = r
            return _by_time(r for r in merged.values() if start <= r.time < end)
        pinned = self.pinned[kind]
        for rel in self._candidates(kind, start, end):
            ok = order_key(rel)
            for r in self._records(rel):
                if r.KIND == kind and start <= r.time < end:
                    pin = pinned.get(r.key) if pinned else None
                    if pin is None or pin == ok:
                        merged[r.key] = r
        return _by_time(merged.values())

    def read(self, kind: str, start, end, limit: int | None, descending: bool) -> list[Record]:
        """Records with ``start <= time < end`` (oldest first, or newest first), at most ``limit``.

        With a limit the range is read in windows cut at the files' span edges, so that the
        first (or last) records are found without reading the whole range."""
        self.ensure_summaries()
        if limit is None or kind in self.winners:
            rows = self._collect(kind, start, end)
            if descending:
                rows.reverse()
            return rows if limit is None else rows[:limit]
        spans = [self.spans[rel][kind] for rel in self._candidates(kind, start, end)]
        out: list[Record] = []
        if not descending:
            points = sorted({max(lo, start) for lo, _ in spans}) + [end]
            for a, b in zip(points, points[1:]):
                out.extend(self._collect(kind, a, b))
                if len(out) >= limit:
                    break
        else:
            points = sorted({min(after(hi), end) for _, hi in spans}, reverse=True) + [start]
            for b, a in zip(points, points[1:]):
                out.extend(reversed(self._collect(kind, a, b)))
                if len(out) >= limit:
                    break
        return out[:limit]

    def latest(self, kind: str) -> Record | None:
        """The record of ``kind`` with the greatest time (the greatest key among equals)."""
        self.ensure_summaries()
        if kind in self.winners:
            times = [t for t, _ in self.winners[kind].values()]
        else:
            times = [spans[kind][1] for spans in self.spans.values() if kind in spans]
        if not times:
            return None
        newest = max(times)
        rows = self._collect(kind, newest, after(newest))
        return rows[-1] if rows else None

    def existing_keys(self, kind: str, records: list[Record]) -> set[tuple]:
        """The keys of ``records`` the tree already holds."""
        self.ensure_summaries()
        keys = {r.key for r in records}
        if kind in self.winners:
            return {k for k in keys if k in self.winners[kind]}
        times = [r.time for r in records]
        present: set[tuple] = set()
        for rel in self._candidates(kind, min(times), after(max(times))):
            present.update(r.key for r in self._records(rel) if r.KIND == kind and r.key in keys)
        return present

    def counts(self) -> dict[str, int]:
        """Distinct records per kind (reads every file holding a time-keyed kind, one at a time)."""
        self.ensure_summaries()
        out: dict[str, int] = {}
        for kind in KIND_NAMES:
            if kind in self.winners:
                out[kind] = len(self.winners[kind])
                continue
            keys: set[tuple] = set()
            for rel in sorted((rel for rel, spans in self.spans.items() if kind in spans), key=order_key):
                keys.update(r.key for r in self._records(rel) if r.KIND == kind)
            out[kind] = len(keys)
        return out

    # -- writing ------------------------------------------------------------------------------
    def wrote(self, rel: str, size: int, records: list[Record], kind: str, written: list[Record]) -> None:
        """Note that file ``rel`` now holds ``records`` (what a reader finds in it: a state
        holds a reading too), written for the ``kind`` records ``written``: they are the
        winners of their keys from now on."""
        ok = order_key(rel)
        others = [] if kind in self.winners else \
            [self.spans[x][kind] for x in self._candidates(kind, min(r.time for r in written),
                                                             after(max(r.time for r in written))) if x != rel]
        self.files[rel] = size
        self._summarise(rel, records)
        if kind in self.winners:
            for r in written:
                self.winners[kind][r.key] = (r.time, ok)
        else:
            pinned = self.pinned[kind]
            for r in written:
                if any(lo <= r.time <= hi for lo, hi in others):
                    pinned[r.key] = ok  # another file covers its time: this version wins anyway
                else:
                    pinned.pop(r.key, None)
        self.quarantined.pop(rel, None)
        self._cache[rel] = records
        self._cache.move_to_end(rel)
        while len(self._cache) > CACHED_FILES:
            self._cache.popitem(last=False)
