"""The quarantine file of a backend: batches it refused for a reason other than an outage.

A batch that fails with a constraint violation, bad data or a bug (anything but a
connection-class error, see ``gdpo.storage.breaker``) is not an outage: retrying it would
fail again, and spooling it would hold up every later batch. It is appended to
``<spool dir>/<backend>/quarantine.ndjson`` (next to the spool segments, mode 0600, fsync'd),
one JSON line per batch::

    {"batch": "<id>", "backend": ..., "kind": ..., "count": <records>, "at": <iso time>,
     "error": "<type>: <message>", "records": [[values in the kind's FIELDS order]]}

and logged at ERROR with the batch id, kind, count and error. The backend stays in use.
``read_quarantine`` gives the lines back (``records`` decode with
``gdpo.storage.spool.decode_batch``); see docs/OPERATIONS.md for what to do with them.
Everything here is blocking file I/O: the pipeline calls it in a worker thread.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import uuid
from pathlib import Path
from typing import Any, Sequence

import msgspec

from gdpo.storage import jsontext
from gdpo.storage.records import UTC, Record

# Never fails: a value msgspec cannot write becomes its str(), as json.dumps(default=str) did.
_encode = msgspec.json.Encoder(enc_hook=str).encode

QUARANTINE_FILE = "quarantine.ndjson"
_SEQ = itertools.count(1)


def new_batch_id() -> str:
    """A batch id unique across processes: time, a process-wide sequence and random bits."""
    now = _dt.datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{os.getpid()}-{next(_SEQ)}-{uuid.uuid4().hex[:6]}"


def quarantine_path(spool_directory: Path) -> Path:
    """The quarantine file of the backend whose spool is ``spool_directory``."""
    return Path(spool_directory) / QUARANTINE_FILE


def append_quarantine(spool_directory: Path, *, batch_id: str, backend: str, kind: str,
                      records: Sequence[Record], error: str) -> Path:
    """Append one quarantined batch (fsync'd); return the file (blocking)."""
    directory = Path(spool_directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = {"batch": batch_id, "backend": backend, "kind": kind, "count": len(records),
            "at": _dt.datetime.now(UTC), "error": error, "records": [r.as_tuple() for r in records]}
    try:
        data = _encode(line) + b"\n"
    except (TypeError, ValueError, OverflowError, RecursionError, msgspec.MsgspecError):
        # a dict key msgspec does not take (true, null) or a payload that contains itself
        data = (json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"),
                           ) + "\n").encode("utf-8")
    path = quarantine_path(directory)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_quarantine(spool_directory: Path) -> list[dict[str, Any]]:
    """Every quarantined batch of a backend, oldest first (blocking; [] when none)."""
    path = quarantine_path(spool_directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [jsontext.loads(ln) for ln in text.splitlines() if ln.strip()]


def quarantine_count(spool_directory: Path) -> int:
    """How many batches the quarantine file holds (blocking)."""
    try:
        with open(quarantine_path(spool_directory), "rb") as f:
            return sum(1 for ln in f if ln.strip())
    except FileNotFoundError:
        return 0


__all__ = ["QUARANTINE_FILE", "append_quarantine", "new_batch_id", "quarantine_count", "quarantine_path",
           "read_quarantine"]
