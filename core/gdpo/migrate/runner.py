"""The migration runner: any backend spec to any, in batches, with dry-run, validation and a report.

``await migrate(MigrationOptions(source=..., target=...))`` returns the report (a dict).
Records are compared with the target before they are written, so a record already there
and identical is counted as ``already_present`` and not written again: a second run over
a migrated tree writes nothing; a run interrupted between batches is finished by running
it again. Each batch is one ``Storage.write`` (one transaction on a database target).
After the records, the hourly and daily rollups (what retention left of deleted raw
``energy_data``) are copied and validated the same way (``gdpo.migrate.rollup_copy``).
Both storages are opened without background jobs (a short command: no retention timer,
status file, signal handlers or spool replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import functools
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from gdpo.config import ConfigError
from gdpo.migrate import DEFAULT_BATCH_SIZE
from gdpo.migrate.checksum import combine, digests, key_getter
from gdpo.migrate.progress import Progress
from gdpo.migrate.report import exit_code_for, report_json
from gdpo.migrate.rollup_copy import RollupCopy, RollupSource
from gdpo.migrate.seen import DEFAULT_MAX_IN_MEMORY, SeenDigests
from gdpo.migrate.sources import all_kinds, iter_storage_records, kind_bounds
from gdpo.migrate.specs import BackendSpec, parse_spec, same_location
from gdpo.storage import Record, Storage, local_midnight_utc, open_storage, record_class
from gdpo.storage.durable import atomic_write
from gdpo.storage.provenance import SourceArchive, SourceChecks, SourceProvenance
from gdpo.storage.records import LOCAL_TZ_NAME, UTC


@dataclass
class MigrationOptions:
    """What ``gdpo migrate`` was asked to do."""

    source: str
    target: str
    dry_run: bool = False
    report_path: str | None = None
    archive: bool = False
    since: _dt.date | None = None
    until: _dt.date | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    progress_stream: TextIO | None = None
    run_id: str | None = None
    max_keys_in_memory: int = DEFAULT_MAX_IN_MEMORY  # beyond it, seen keys move to a temporary file


@dataclass
class KindStats:
    """Counts of one record kind."""

    read: int = 0
    duplicates: int = 0
    written: int = 0
    already_present: int = 0
    in_target: int | None = None
    outside_range: int = 0
    distinct: int = 0  # keys (the digest of each winning record is kept in ``SeenDigests``)
    source_sum: str | None = None
    first: Any = None
    last: Any = None
    target_sum: str | None = None
    match: bool | None = None

    def as_json(self) -> dict[str, Any]:
        """The counts shown in the report."""
        return {"read": self.read, "duplicates": self.duplicates, "written": self.written,
                "already_present": self.already_present, "in_target": self.in_target,
                "outside_range": self.outside_range, "distinct": self.distinct}


def new_run_id() -> str:
    """A run id: UTC time and a few random characters (also the archive directory name)."""
    return _dt.datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


# records per kind that differ from the target, held back until the end of the run (a few MB);
# beyond it they are written at once, and a second run may rewrite an older version before its winner
MAX_DIFFERING_PER_KIND = 5_000


class _Sink:
    """Buffers records per kind and writes what the target lacks, batch by batch."""

    def __init__(self, target: Storage | None, dry_run: bool, batch_size: int, stats: dict[str, KindStats],
                 seen: SeenDigests):
        self.target, self.dry_run, self.batch_size, self.stats = target, dry_run, batch_size, stats
        self.seen = seen
        # kind -> records not yet settled (fewer than batch_size)
        self.buffers: dict[str, list[Record]] = {}
        self.write_s = 0.0
        self.target_spans: dict[str, tuple | None] = {}
        # kind -> natural key -> a record that differs from the target's version of it: written
        # at the end unless a later file's version turns out to be the one stored already
        self.differing: dict[str, dict] = {}

    async def learn_target(self) -> None:
        """Note the time span each kind already covers in the target: a batch outside it
        cannot meet a stored record, so it is not compared (a fresh target costs no reads)."""
        for kind in self.stats:
            if self.target is None:
                self.target_spans[kind] = None
                continue
            newest = await self.target.latest(kind)
            if newest is None:
                self.target_spans[kind] = None
                continue
            lo, hi = kind_bounds(kind, None, None, local_midnight_utc)
            (oldest,) = await self.target.read(kind, lo, hi, limit=1)
            self.target_spans[kind] = (oldest.time, newest.time)

    async def put(self, kind: str, records: list[Record]) -> None:
        """Buffer ``records`` of ``kind`` and flush every full batch of ``batch_size``.

        Everything else (counts, duplicates, the keys seen before, the target) is settled
        batch by batch when a batch is flushed."""
        buf = self.buffers.get(kind)
        if buf is None:
            buf = self.buffers[kind] = []
        buf.extend(records)
        size = self.batch_size
        while len(buf) >= size:
            batch = buf[:size]
            del buf[:size]
            await self._flush_batch(kind, batch)

    def _settle_batch(self, kind: str, records: list[Record]) -> tuple[list, list[Record], list[int]]:
        """Count a batch and drop its repeated keys (the last version of a key wins): its
        distinct keys, their records and their digests."""
        st = self.stats[kind]
        st.read += len(records)
        times = list(map(_time_getter(kind), records))
        lo, hi = min(times), max(times)
        if st.first is None or lo < st.first:
            st.first = lo
        if st.last is None or hi > st.last:
            st.last = hi
        keys = list(map(key_getter(kind), records))
        last = dict(zip(keys, range(len(keys))))
        if len(last) != len(keys):
            st.duplicates += len(keys) - len(last)
            keys, records = list(last), [records[i] for i in last.values()]
        return keys, records, digests(records)

    async def flush(self, kind: str) -> None:
        """Flush what is buffered of ``kind`` (see :meth:`_flush_batch`)."""
        buf = self.buffers.pop(kind, None)
        if buf:
            await self._flush_batch(kind, buf)

    async def _flush_batch(self, kind: str, buf: list[Record]) -> None:
        """Settle a batch of ``kind`` against the keys seen before, compare it with the
        target and write what it lacks (one write)."""
        t0 = time.perf_counter()
        st = self.stats[kind]
        keys, records, digs = self._settle_batch(kind, buf)
        key_hashes = list(map(hash, keys))
        seen, in_file = await self.seen.lookup(kind, key_hashes)
        if not seen:  # every key is new (the common case): no per-record work
            st.distinct += len(keys)
            winners = dict(zip(key_hashes, digs))
            fresh = dict(zip(keys, records))
        else:
            winners, fresh = {}, {}
            for key, record, key_hash, digest in zip(keys, records, key_hashes, digs):
                prev = seen.get(key_hash)
                if prev is None:
                    st.distinct += 1
                else:
                    st.duplicates += 1
                    if prev == digest:
                        continue  # the same record again (another file had it): nothing to do
                winners[key_hash] = digest
                fresh[key] = record
        await self.seen.record(kind, winners, in_file & winners.keys())
        todo = await self._compare(kind, fresh)
        await self._write(kind, todo)
        self.write_s += time.perf_counter() - t0

    async def _compare(self, kind: str, fresh: dict) -> list[Record]:
        """The records of ``fresh`` (key -> record) the target lacks; those it holds in another
        version are held back in ``differing`` (see :meth:`flush_all`)."""
        st = self.stats[kind]
        differing = self.differing.setdefault(kind, {})
        span = self.target_spans.get(kind)
        existing: dict = {}
        if span is not None and fresh:
            times = list(map(_time_getter(kind), fresh.values()))
            lo, hi = min(times), max(times)
            if hi >= span[0] and lo <= span[1]:
                hi = hi + (_dt.timedelta(microseconds=1) if isinstance(hi, _dt.datetime) else _dt.timedelta(days=1))
                key_of = key_getter(kind)
                existing = {key_of(r): r for r in await self.target.read(kind, lo, hi)}
        if not existing:  # nothing of the range in the target (a new target): write it all
            for key in differing.keys() & fresh.keys() if differing else ():
                del differing[key]
            return list(fresh.values())
        todo = []
        for key, r in fresh.items():
            stored = existing.get(key)
            if stored == r:
                st.already_present += 1
                differing.pop(key, None)  # an older version read earlier is not the winner
            elif stored is not None:
                differing[key] = r  # an update, or an older version a later file supersedes
            else:
                differing.pop(key, None)
                todo.append(r)
        if len(differing) >= MAX_DIFFERING_PER_KIND:
            todo.extend(differing.values())
            differing.clear()
        return todo

    async def _write(self, kind: str, records: list) -> None:
        if records and not self.dry_run:
            await self.target.write(kind, records)
        self.stats[kind].written += len(records)

    async def flush_all(self) -> None:
        """Flush every kind, then write the records that differ from the target's versions."""
        for kind in list(self.buffers):
            await self.flush(kind)
        for kind, differing in self.differing.items():
            records = list(differing.values())
            for i in range(0, len(records), self.batch_size):
                t0 = time.perf_counter()
                await self._write(kind, records[i:i + self.batch_size])
                self.write_s += time.perf_counter() - t0
        self.differing = {}


async def migrate(opts: MigrationOptions) -> dict[str, Any]:
    """Run one migration and return its report (see ``gdpo.migrate.report``)."""
    if opts.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {opts.batch_size}")
    if opts.since and opts.until and opts.since > opts.until:
        raise ConfigError(f"--since {opts.since} is after --until {opts.until}")
    # config files, paths and stat calls: in a worker thread, off the event loop
    src, dst, target_exists = await asyncio.to_thread(_resolve, opts)
    run_id = opts.run_id or new_run_id()
    started = _dt.datetime.now(UTC)
    t_start = time.perf_counter()
    stats = {kind: KindStats() for kind in all_kinds()}
    report: dict[str, Any] = {
        "run_id": run_id, "started_at": started.isoformat(), "source": src.shown, "target": dst.shown,
        "dry_run": opts.dry_run, "since": opts.since and opts.since.isoformat(),
        "until": opts.until and opts.until.isoformat(), "files": Counter(), "quarantined": [],
        "partially_imported": [], "skipped": [], "notes": [], "discrepancies": [], "derived_totals": [],
    }
    ambiguous: list[tuple[str, bool]] = []
    imported_files: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        source = await stack.enter_async_context(open_storage(src.config, background=False))
        by_source = _provenance(source)
        if opts.archive and not isinstance(by_source, SourceArchive):
            raise ConfigError(f"--archive needs a source backend that can archive its files, such as json_legacy "
                              f"({src.shown} cannot)")
        target = None
        if not (opts.dry_run and not target_exists):
            target = await stack.enter_async_context(open_storage(dst.config, background=False))
        seen = SeenDigests(opts.max_keys_in_memory)
        stack.callback(seen.close)
        sink = _Sink(target, opts.dry_run, opts.batch_size, stats, seen)
        await sink.learn_target()
        checks = None
        if by_source is not None:
            checks = await _from_sources(by_source, sink, opts, report, ambiguous, imported_files)
        else:
            await _from_storage(source, sink, opts)
        rollup_source = RollupSource(storage=source)
        await sink.flush_all()
        rollups = RollupCopy(target, opts.dry_run)
        await rollups.run(rollup_source, *kind_bounds("energy_data", opts.since, opts.until, local_midnight_utc))
        report["notes"].extend({"path": None, "note": n} for n in rollups.notes)
        for kind, st in stats.items():
            if st.distinct:
                st.source_sum = combine((await seen.total(kind),))
        t_validate = time.perf_counter()
        validated = await _validate(target, stats, seen) if target is not None else False
        if target is not None and not opts.dry_run:
            validated = await rollups.validate() and validated
        timings = {"total_s": 0.0, "compare_and_write_s": round(sink.write_s, 3),
                   "validate_s": round(time.perf_counter() - t_validate, 3)}
    rows, differing = checks.compare() if checks is not None else ([], [])
    report["derived_totals"], report["discrepancies"] = rows, differing
    report["per_kind"] = {kind: st.as_json() for kind, st in stats.items()}
    report["rollups"] = rollups.report()
    report["checksums"] = {kind: {"source": st.source_sum, "target": st.target_sum, "match": st.match}
                           for kind, st in stats.items() if st.distinct}
    report["checksums_match"] = None if opts.dry_run else validated
    report["dst_ambiguous_records"] = _ambiguous_summary(ambiguous)
    report["files"] = dict(report["files"])
    report["finished_at"] = _dt.datetime.now(UTC).isoformat()
    timings["total_s"] = round(time.perf_counter() - t_start, 3)
    report["timings"] = timings
    report["exit_code"] = exit_code_for(report)
    report["archive"] = None
    if opts.archive and not opts.dry_run and validated:
        report["archive"] = await by_source.archive_sources(run_id, imported_files, report)
    if opts.report_path:
        await asyncio.to_thread(atomic_write, _path(opts.report_path), report_json(report).encode("utf-8"),
                                file_mode=0o644)
    return report


def _resolve(opts: MigrationOptions) -> tuple[BackendSpec, BackendSpec, bool]:
    """(blocking) The source and target specs and whether the target exists; raises
    ConfigError for a source that is the target or does not exist."""
    src, dst = parse_spec(opts.source), parse_spec(opts.target)
    if same_location(src, dst):
        raise ConfigError(f"the source and the target are the same ({dst.shown})")
    if not src.exists():
        where = src.resolved_location
        at = f" ({src.backend} at {where})" if where and where not in src.shown else ""
        raise ConfigError(f"the source {src.shown}{at} does not exist (nothing to migrate; it is not created); "
                          "check the path, or the config's data_storage section for --from config")
    return src, dst, dst.exists()


def _path(p: str):
    from pathlib import Path

    return Path(p).expanduser().absolute()


def _provenance(storage: Storage) -> SourceProvenance | None:
    """The source backend, when it offers per-source provenance (``gdpo.storage.provenance``)
    and holds every kind; None to read the storage kind by kind."""
    backends = list(storage.backends.values())
    if len(backends) == 1 and isinstance(backends[0], SourceProvenance):
        return backends[0]
    return None


def _in_range(record: Record, opts: MigrationOptions) -> bool:
    if opts.since is None and opts.until is None:
        return True
    t = record.time
    day = t if not isinstance(t, _dt.datetime) else _local_date(t)
    return (opts.since is None or day >= opts.since) and (opts.until is None or day <= opts.until)


def _local_date(t: _dt.datetime) -> _dt.date:
    return t.astimezone(_local_tz()).date()


@functools.lru_cache(maxsize=1)
def _local_tz() -> ZoneInfo:
    return ZoneInfo(LOCAL_TZ_NAME)


async def _from_sources(backend: SourceProvenance, sink: _Sink, opts: MigrationOptions, report: dict,
                        ambiguous: list, imported_files: list) -> SourceChecks | None:
    """Copy a source backend source by source, noting each source's outcome in the report."""
    sources = await backend.list_sources()
    checks = backend.source_checks(sources)
    progress = Progress(len(sources), "files", opts.progress_stream)
    files = report["files"]
    ranged = opts.since is not None or opts.until is not None
    try:
        async for outcome in backend.iter_sources():
            files["total"] += 1
            files[outcome.disposition] += 1
            for note in outcome.notes:
                report["notes"].append({"path": outcome.path, "note": note})
            if outcome.disposition == "quarantine":
                report["quarantined"].append({"path": outcome.path, "reason": outcome.reason})
            elif outcome.disposition == "skip":
                report["skipped"].append({"path": outcome.path, "reason": outcome.reason, "legacy_kind": outcome.label})
            elif outcome.disposition == "partial":
                report["partially_imported"].append({"path": outcome.path, "bad_lines": outcome.bad_lines,
                                                     "records": len(outcome.records)})
            if checks is not None:
                checks.add_outcome(outcome)
            complete = outcome.disposition == "import"
            records = outcome.records
            if ranged:
                inside = []
                for record in records:
                    if _in_range(record, opts):
                        inside.append(record)
                    else:
                        sink.stats[record.KIND].outside_range += 1
                complete = complete and len(inside) == len(records)
                records = inside
            if checks is not None:
                for record in records:
                    checks.add(record, outcome.path)
            for kind, group in _by_kind(records):
                await sink.put(kind, group)
            if complete:
                imported_files.append(outcome.path)
            ambiguous.extend(outcome.ambiguous)
            progress.advance()
    finally:
        progress.close()
    return checks


async def _from_storage(source: Storage, sink: _Sink, opts: MigrationOptions) -> None:
    kinds = all_kinds()
    progress = Progress(len(kinds), "kinds", opts.progress_stream)
    try:
        for kind in kinds:
            start, end = kind_bounds(kind, opts.since, opts.until, local_midnight_utc)
            async for rows in iter_storage_records(source, kind, start, end):
                await sink.put(kind, rows)
            progress.advance()
    finally:
        progress.close()


async def _validate(target: Storage, stats: dict[str, KindStats], seen: SeenDigests) -> bool:
    """Read every migrated key back from the target; compare counts and checksums per kind."""
    ok = True
    for kind, st in stats.items():
        if not st.distinct:
            st.in_target = 0
            continue
        hi = st.last + (_dt.timedelta(microseconds=1) if isinstance(st.last, _dt.datetime) else _dt.timedelta(days=1))
        count = total = 0  # a running sum: nothing kept per target record
        key_of = key_getter(kind)
        async for rows in iter_storage_records(target, kind, st.first, hi):
            hashes = list(map(hash, map(key_of, rows)))
            migrated = await seen.contains(kind, hashes)
            if len(migrated) < len(rows):  # the target holds other records of the range too
                rows = [r for r, h in zip(rows, hashes) if h in migrated]
            count += len(rows)
            total += sum(digests(rows))
        st.in_target = count
        st.target_sum = combine((total,))
        st.match = st.target_sum == st.source_sum and count == st.distinct
        ok = ok and st.match
    return ok


def _by_kind(records: list[Record]) -> list[tuple[str, list[Record]]]:
    """``records`` grouped by kind, each group in file order (a file holds one kind or two)."""
    if not records:
        return []
    if len(set(map(type, records))) == 1:
        return [(records[0].KIND, records)]
    groups: dict[str, list[Record]] = {}
    for record in records:
        group = groups.get(record.KIND)
        if group is None:
            group = groups[record.KIND] = []
        group.append(record)
    return list(groups.items())


@functools.lru_cache(maxsize=None)
def _time_getter(kind: str):
    return attrgetter(record_class(kind).SPEC.time_field)


def _ambiguous_summary(items: list[tuple[str, bool]]) -> dict[str, Any]:
    by_kind = Counter(kind for kind, _ in items)
    second = sum(1 for _, s in items if s)
    return {"first_occurrence": len(items) - second, "second_occurrence_by_file_order": second,
            "by_kind": dict(by_kind)}
