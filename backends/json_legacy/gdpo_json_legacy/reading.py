"""Reading one legacy file: decode, sniff (object, array, NDJSON, wrapper) and map to records.

:func:`read_legacy_file` never raises for bad content: it returns a :class:`FileOutcome`
whose ``disposition`` says what happens to the file:

* ``import``: every record of the file maps (``records``);
* ``partial``: an NDJSON file whose good lines map and whose bad lines are listed;
* ``quarantine``: empty, not UTF-8, truncated, unparseable, unrecognised, or a value that
  fails validation: nothing from it is written, the reason says why;
* ``skip``: a known legacy file that is deliberately not imported (derived data, caches).
"""

from __future__ import annotations

import json
import os
from typing import Any

import msgspec

from gdpo.storage import Record, StorageError
from gdpo.storage.provenance import SourceOutcome

from gdpo_json_legacy.localtime import LegacyTimeError, LocalClock
from gdpo_json_legacy.mapping import classify_object

BOM = b"\xef\xbb\xbf"
_decode_json = json.JSONDecoder().decode  # the reference reading: what msgspec refuses, and every error message
# msgspec.json parses a file 3-5x faster than the json module; anything it refuses (NDJSON, damage,
# the NaN/Infinity literals and huge numbers the legacy writer could emit) is parsed again by json,
# so documents, NDJSON detection and every error are exactly the json module's.
_fast_decode = msgspec.json.Decoder().decode
_FAST_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def _decode_doc(text: str) -> Any:
    try:
        return _fast_decode(text)
    except _FAST_ERRORS:
        return _decode_json(text)


class FileOutcome(SourceOutcome):
    """What one legacy file holds and what the import does with it (``path``: relative to the
    tree's root); the provenance outcome of ``gdpo.storage.provenance``."""


def read_legacy_file(path: str | os.PathLike, rel: str | None = None) -> FileOutcome:
    """Read, sniff and map the legacy file at ``path`` (``rel``: the name used in the report)."""
    rel = rel if rel is not None else os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return FileOutcome(rel).quarantine(f"cannot read: {exc.strerror or exc}")
    return read_legacy_bytes(data, rel)


def read_legacy_bytes(data: bytes, rel: str) -> FileOutcome:
    """Like :func:`read_legacy_file`, for content already in memory."""
    out = FileOutcome(rel)
    if data.startswith(BOM):
        data = data[len(BOM):]
        out.notes.append("UTF-8 byte-order mark ignored")
    if not data or data.isspace():
        return out.quarantine("empty file" if not data else "file holds only whitespace")
    if data.isascii():  # what the legacy writers wrote (json.dumps escapes the rest): no text copy
        try:
            doc = _fast_decode(data)
        except _FAST_ERRORS:
            pass  # NDJSON, damage or what only the json module reads: the reference path below
        else:
            _map_document(doc, out)
            return out
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return out.quarantine(f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x} at offset {exc.start}")
    try:
        doc = _decode_doc(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return _read_ndjson(text, out)
        return out.quarantine(_parse_failure(text, exc))
    _map_document(doc, out)
    return out


def _parse_failure(text: str, exc: json.JSONDecodeError) -> str:
    stripped = text.rstrip()
    if exc.pos >= len(stripped):
        tail = stripped[-40:].replace("\n", " ").strip()
        hint = " (the legacy datetime TypeError cut it)" if stripped.endswith(":") else ""
        return f"truncated JSON: the document ends after {tail!r}{hint}"
    return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


def _map_document(doc: Any, out: FileOutcome) -> None:
    shape = classify_object(doc)
    if shape is None:
        if isinstance(doc, list) and not doc:
            out.label, out.disposition = "empty-array", "import"
            out.notes.append("empty array: no records")
            return
        out.quarantine("valid JSON, matches no kind")
        return
    out.label = shape.label
    if shape.mapper is None:
        out.disposition, out.reason, out.document = "skip", shape.skip_reason, doc
        return
    if shape.label == "F-export":
        out.document = doc  # its daily summaries and monthly reports are compared, not imported
    clock = LocalClock(ordered=False)
    try:
        out.records = shape.mapper(doc, clock)
    except (StorageError, ValueError, TypeError, OverflowError, LegacyTimeError, AttributeError) as exc:
        out.quarantine(f"{shape.label}: {exc}")
        return
    out.ambiguous = clock.ambiguous


def _read_ndjson(text: str, out: FileOutcome) -> FileOutcome:
    clock = LocalClock(ordered=True)
    labels: set[str] = set()
    good = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = _decode_doc(line)
        except json.JSONDecodeError as exc:
            out.bad_lines.append({"line": lineno, "reason": f"not valid JSON: {exc.msg} at column {exc.colno}"})
            continue
        shape = classify_object(obj)
        if shape is None or shape.mapper is None:
            why = "matches no kind" if shape is None else f"a {shape.label} object in an NDJSON file"
            out.bad_lines.append({"line": lineno, "reason": why})
            continue
        try:
            records = shape.mapper(obj, clock)
        except (StorageError, ValueError, TypeError, OverflowError, LegacyTimeError, AttributeError) as exc:
            out.bad_lines.append({"line": lineno, "reason": f"{shape.label}: {exc}"})
            continue
        labels.add(shape.label)
        out.records.extend(records)
        good += 1
    out.label = "ndjson:" + "+".join(sorted(labels)) if labels else "ndjson"
    out.ambiguous = clock.ambiguous
    if not good:
        first = out.bad_lines[0] if out.bad_lines else {"line": 0, "reason": "no lines"}
        return out.quarantine(f"NDJSON with no usable line (line {first['line']}: {first['reason']})")
    if out.bad_lines:
        out.disposition = "partial"
    return out
