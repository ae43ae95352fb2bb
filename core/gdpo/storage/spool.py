"""The durable outage spool of one backend: append-only NDJSON segments, fsync'd.

Layout (one directory per backend, mode 0700, files 0600)::

    <spool dir>/<backend>/
        .lock                      flock taken for every file operation (all processes)
        .replay.lock               flock held by the one process replaying
        000000000001.ndjson        a segment: one line per batch
        000000000002.replaying     a segment sealed by a replayer (being written back)
        rejected.ndjson            batches the backend refused while healthy (kept, never replayed)

A line is ``{"kind": ..., "n": <records>, "at": <iso time>, "records": [[values in the
kind's FIELDS order]]}`` with datetimes and dates as ISO-8601 text. Segments are ordered by
their number; a process appends only to a segment it created (a torn last line left by a
crash is never continued, and is skipped on replay: it was never acknowledged). Replay
seals every open segment (rename to ``.replaying``) so that new appends go to a new
segment, writes the batches back in order and deletes each segment once all its batches
are stored. Backends upsert on the natural key, so a segment replayed twice after a crash
stores each record once.

The spool is bounded by ``max_bytes``: when an append would exceed it, whole batches of
the oldest raw ``energy_data`` are dropped first, then forecasts; sessions, decisions,
system states and daily stats are never dropped (the bound is exceeded instead, with a
warning). Everything here is blocking file I/O: the pipeline calls it in a worker thread.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import msgspec

from gdpo.storage.durable import fsync_directory
from gdpo.storage.jsontext import dumps_bytes, encode as _encode
from gdpo.storage.records import UTC, Record, make_record, record_class

log = logging.getLogger(__name__)

#: Kinds whose oldest batches may be dropped from a full spool, in this order.
DROPPABLE_KINDS = ("energy_data", "pv_forecasts", "price_forecasts")
SEGMENT_SUFFIX = ".ndjson"
SEALED_SUFFIX = ".replaying"
REJECTED_FILE = "rejected.ndjson"


class SpoolError(OSError):
    """The spool cannot be written (disk full, permissions): names the directory."""


def encode_batch(kind: str, records: Sequence[Record]) -> bytes:
    """One spool line (with its newline) holding a batch of records of one kind.

    msgspec writes the datetimes as RFC 3339 text (``...Z`` for UTC), which the format's
    readers, this one and the former, parse as the same instant. The records' JSON fields
    are checked by :func:`check_encodable` before they reach the spool."""
    line = {"kind": kind, "n": len(records), "at": _dt.datetime.now(UTC),
            "records": [r.as_tuple() for r in records]}
    try:
        return _encode(line) + b"\n"
    except TypeError:  # a key msgspec does not take (true, null): the json module's spelling
        line["at"] = line["at"].isoformat()
        line["records"] = [[_iso(v) for v in values] for values in line["records"]]
        return dumps_bytes(line) + b"\n"


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (_dt.datetime, _dt.date)) else v


class _Line(msgspec.Struct):
    kind: str
    records: list[list[Any]]


class _Count(msgspec.Struct):
    n: int


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_count = msgspec.json.Decoder(_Count).decode


def decode_batch(line: bytes) -> tuple[str, list[Record]]:
    """The kind and validated records of one spool line (either spelling of its datetimes)."""
    try:
        data = _decode_line(line)
    except msgspec.MsgspecError as exc:
        raise ValueError(f"not a spool line: {exc}") from None
    kind = data.kind
    fields = record_class(kind).FIELDS
    return kind, [make_record(kind, dict(zip(fields, values))) for values in data.records]


def check_encodable(kind: str, records: Sequence[Record]) -> None:
    """Raise ValueError/TypeError when a record could not be spooled (a non-JSON payload)."""
    cls = record_class(kind)
    json_fields = [f.name for f in cls.SPEC.fields if f.type == "json"]
    for r in records:
        for name in json_fields:
            value = getattr(r, name)
            if value is not None:
                dumps_bytes(value)


@dataclass
class SpoolBatch:
    """One batch read back from a segment."""

    segment: Path
    index: int
    kind: str
    records: list[Record]
    raw: bytes


def _seq(path: Path) -> int:
    try:
        return int(path.name.split(".", 1)[0])
    except ValueError:
        return -1


class Spool:
    """The spool directory of one backend (blocking methods; call them from a thread)."""

    def __init__(self, directory: str | os.PathLike, *, max_bytes: int = 64 * 1024 * 1024,
                 segment_bytes: int = 4 * 1024 * 1024):
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)
        self.segment_bytes = int(segment_bytes)
        self._current: Path | None = None  # the segment this process appends to

    # -- locking and layout ----------------------------------------------------------------
    def _ensure_dir(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"spool directory {self.directory}: cannot create it: {exc.strerror or exc}") from None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure_dir()
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def writable(self) -> bool:
        """True when the spool directory can be created and written (blocking)."""
        try:
            with self._locked():
                return os.access(self.directory, os.W_OK)
        except OSError:
            return False

    def segments(self) -> list[Path]:
        """Every segment (open and sealed), oldest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir()
                 if p.name[:1].isdigit() and p.name.endswith((SEGMENT_SUFFIX, SEALED_SUFFIX))]
        return sorted(found, key=_seq)

    def size_bytes(self) -> int:
        """Bytes held in segments (rejected batches not included)."""
        total = 0
        for p in self.segments():
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def is_empty(self) -> bool:
        """True when no segment is left."""
        return not self.segments()

    def _fsync_dir(self) -> None:
        fsync_directory(self.directory)

    # -- appending -------------------------------------------------------------------------
    def append(self, kind: str, records: Sequence[Record]) -> dict[str, int]:
        """Append a batch durably (fsync'd before returning).

        Returns ``{"spooled": n, "dropped": m}``: ``m`` raw records dropped to stay within
        ``max_bytes`` (possibly this batch itself, when it is droppable and cannot fit).
        """
        line = encode_batch(kind, records)
        try:
            with self._locked():
                dropped = 0
                if self.size_bytes() + len(line) > self.max_bytes:
                    dropped = self._make_room(len(line))
                    if self.size_bytes() + len(line) > self.max_bytes:
                        if kind in DROPPABLE_KINDS:
                            log.warning("spool %s is full (%d bytes): dropped a batch of %d %s records",
                                        self.directory, self.max_bytes, len(records), kind)
                            return {"spooled": 0, "dropped": dropped + len(records)}
                        log.warning("spool %s is over its bound of %d bytes; keeping %s records anyway",
                                    self.directory, self.max_bytes, kind)
                self._write_line(line)
                return {"spooled": len(records), "dropped": dropped}
        except SpoolError:
            raise
        except OSError as exc:
            raise SpoolError(f"spool directory {self.directory}: cannot write: {exc.strerror or exc}") from None

    def _write_line(self, line: bytes) -> None:
        cur = self._current
        if cur is None or not cur.exists() or cur.stat().st_size + len(line) > self.segment_bytes:
            segs = self.segments()
            nxt = (_seq(segs[-1]) + 1) if segs else 1
            cur = self._current = self.directory / f"{nxt:012d}{SEGMENT_SUFFIX}"
            fd = os.open(cur, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            created = True
        else:
            fd = os.open(cur, os.O_WRONLY | os.O_APPEND)
            created = False
        try:
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            self._fsync_dir()

    def _make_room(self, needed: int) -> int:
        """Drop the oldest droppable batches until ``needed`` fits. Sealed segments count
        only while no replay runs (a running replay owns them)."""
        dropped = 0
        with self.replay_lock() as no_replay_running:
            for kind in DROPPABLE_KINDS:
                for seg in self.segments():
                    if self.size_bytes() + needed <= self.max_bytes:
                        return dropped
                    if seg.name.endswith(SEALED_SUFFIX) and not no_replay_running:
                        continue
                    dropped += self._drop_from_segment(seg, kind, needed)
        return dropped

    def _rewrite(self, seg: Path, lines: list[bytes]) -> None:
        """Replace a segment by ``lines`` (deleting it when none are left)."""
        if not lines:
            seg.unlink()
        else:
            tmp = seg.with_name(seg.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"".join(lines))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, seg)
        self._fsync_dir()

    def _drop_from_segment(self, seg: Path, kind: str, needed: int) -> int:
        lines = seg.read_bytes().splitlines(keepends=True)
        keep: list[bytes] = []
        dropped = 0
        excess = self.size_bytes() + needed - self.max_bytes
        for ln in lines:
            if excess > 0 and ln.endswith(b"\n") and _line_kind(ln) == kind:
                excess -= len(ln)
                dropped += _line_count(ln)
                continue
            keep.append(ln)
        if dropped:
            self._rewrite(seg, keep)
            log.warning("spool %s is full: dropped the %d oldest %s records", self.directory, dropped, kind)
        return dropped

    # -- replaying -------------------------------------------------------------------------
    @contextmanager
    def replay_lock(self) -> Iterator[bool]:
        """Hold the replay lock (yields False when another process is replaying)."""
        if not self.directory.is_dir():
            yield False
            return
        fd = os.open(self.directory / ".replay.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def try_replay_lock(self) -> int | None:
        """Take the replay lock without waiting: its file descriptor, or None when another
        process is replaying or there is no spool directory (blocking: call in a thread;
        give it back with :meth:`release_replay_lock`)."""
        if not self.directory.is_dir():
            return None
        fd = os.open(self.directory / ".replay.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @staticmethod
    def release_replay_lock(fd: int) -> None:
        """Give back a replay lock taken with :meth:`try_replay_lock`."""
        os.close(fd)

    def seal(self) -> list[Path]:
        """Seal every open segment for replay; return all sealed segments, oldest first."""
        if not self.directory.is_dir():
            return []
        with self._locked():
            for seg in self.segments():
                if seg.name.endswith(SEGMENT_SUFFIX):
                    os.replace(seg, seg.with_name(seg.name[:-len(SEGMENT_SUFFIX)] + SEALED_SUFFIX))
            self._current = None
            return [s for s in self.segments() if s.name.endswith(SEALED_SUFFIX)]

    def read_segment(self, seg: Path) -> list[SpoolBatch]:
        """The batches of a sealed segment; a torn last line is skipped, a corrupt line is
        moved to the rejected file."""
        out: list[SpoolBatch] = []
        data = seg.read_bytes()
        lines = data.split(b"\n")
        for i, ln in enumerate(lines):
            if not ln:
                continue
            torn = i == len(lines) - 1  # no newline after it: the append never completed
            try:
                kind, records = decode_batch(ln)
            except Exception as exc:
                if torn:
                    log.warning("spool %s: skipped a torn last line (never acknowledged)", seg)
                else:
                    log.error("spool %s: line %d is corrupt (%s); kept in %s", seg, i + 1, exc, REJECTED_FILE)
                    self.reject(ln + b"\n")
                continue
            out.append(SpoolBatch(seg, i, kind, records, ln + b"\n"))
        return out

    def forget_head(self, seg: Path, line_index: int) -> None:
        """Remove the lines before ``line_index`` of a sealed segment (they are replayed)."""
        with self._locked():
            if seg.exists():
                lines = seg.read_bytes().split(b"\n")[line_index:]
                self._rewrite(seg, [ln + b"\n" for ln in lines if ln])

    def remove(self, seg: Path) -> None:
        """Delete a fully replayed segment."""
        with self._locked():
            try:
                seg.unlink()
            except FileNotFoundError:
                pass
            self._fsync_dir()

    def reject(self, raw: bytes) -> None:
        """Keep a batch the backend refused in ``rejected.ndjson`` (never replayed again)."""
        with self._locked():
            fd = os.open(self.directory / REJECTED_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, raw)
                os.fsync(fd)
            finally:
                os.close(fd)

    def describe(self) -> dict[str, Any]:
        """Size and segment count, for health and status."""
        segs = self.segments()
        rejected = self.directory / REJECTED_FILE
        return {"directory": str(self.directory), "segments": len(segs), "bytes": self.size_bytes(),
                "max_bytes": self.max_bytes, "rejected_bytes": rejected.stat().st_size if rejected.exists() else 0}


def _line_kind(line: bytes) -> str | None:
    head = line[:80]
    if head.startswith(b'{"kind":"'):
        end = head.find(b'"', 9)
        return head[9:end].decode("ascii", "replace") if end > 0 else None
    return None


def _line_count(line: bytes) -> int:
    try:
        return _decode_count(line).n
    except Exception:
        return 0
