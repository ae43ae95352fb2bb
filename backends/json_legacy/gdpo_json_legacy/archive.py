"""``--archive`` and ``--restore-archive``: move imported legacy files aside, and back.

After a successful, validated run the fully imported files move to
``out/archive/<run-id>/`` under their relative paths, with the report and an index
(``archive_index.json``) beside them. Nothing is deleted.

The archive survives a crash at any point:

1. the index (every file that will move: its relative path, size and SHA-256) is written
   and fsync'd, with its directory, *before* the first move (``"state": "moving"``);
2. each move is a rename within the tree, followed by an fsync of both directories and a
   line in ``archive_moves.log`` (fsync'd): the moves are recorded as done one by one;
3. at the end the index is rewritten with ``"state": "complete"`` and the report is written.

Restoring reads the index, not the log: every file is looked for in the archive and in its
place, so a run stopped between any two steps is restored exactly (a file still in its
place is left there; a file in the archive is moved back and its checksum verified). A file
whose place is taken again is left in the archive and listed. A crash before the index is
complete leaves no index and no moved file: the tree is untouched.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from pathlib import Path

from gdpo.storage.durable import fsync_directory
from gdpo.storage.errors import StorageSettingsError

from gdpo_json_legacy.tree import LegacyTree
from gdpo_json_legacy.writing import atomic_write


def report_json(report: dict) -> str:
    """The report as indented JSON text (as ``gdpo migrate --report`` writes it)."""
    return json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"


INDEX_NAME = "archive_index.json"
REPORT_NAME = "migration_report.json"
MOVES_LOG = "archive_moves.log"
INDEX_VERSION = 2
_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def _crash_point(step: str) -> None:
    """Called after every durable step of :func:`archive_files`; does nothing.

    The crash tests replace it to stop the archive at each step (an exception, or a SIGKILL
    of a child process); production code never changes it."""


def archive_dir(tree: LegacyTree, run_id: str) -> Path:
    """The directory of one archived run (the run id is checked: no path tricks)."""
    if not _RUN_ID.match(run_id or ""):
        raise StorageSettingsError(f"invalid archive run id {run_id!r}")
    return tree.archive / run_id


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (blocking)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _make_dirs(directory: Path, stop: Path) -> None:
    """Create ``directory`` (and parents up to ``stop``), fsyncing each new entry's parent."""
    missing = []
    d = directory
    while not d.exists() and d != stop and d != d.parent:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        fsync_directory(d.parent)


def _append_line(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_index(path: Path, index: dict) -> None:
    atomic_write(path, json.dumps(index, indent=2).encode("utf-8"))  # file and directory fsync'd


def archive_files(tree: LegacyTree, run_id: str, rel_paths: list[str], report: dict) -> dict:
    """Move ``rel_paths`` into the run's archive directory, crash-safely (see the module
    docstring); write the index first and the report last. Blocking: run it in a thread."""
    target = archive_dir(tree, run_id)
    if (target / INDEX_NAME).exists():
        raise StorageSettingsError(f"archive run id {run_id!r} is taken already ({target / INDEX_NAME}); nothing moved")
    entries = []
    for rel in rel_paths:
        src = tree.root / rel
        entries.append({"path": rel, "bytes": src.stat().st_size, "sha256": file_sha256(src)})
    _make_dirs(target, tree.root)
    index = {"version": INDEX_VERSION, "run_id": run_id, "state": "moving",
             "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
             "files": list(rel_paths), "entries": entries}
    _write_index(target / INDEX_NAME, index)
    _crash_point("index")
    moves_log = target / MOVES_LOG
    for n, rel in enumerate(rel_paths, 1):
        src, dst = tree.root / rel, target / rel
        _make_dirs(dst.parent, target)
        os.replace(src, dst)
        fsync_directory(dst.parent)
        fsync_directory(src.parent)
        _crash_point(f"move {n}")
        _append_line(moves_log, rel)
        _crash_point(f"logged {n}")
    index["state"] = "complete"
    _write_index(target / INDEX_NAME, index)
    _crash_point("complete")
    info = {"run_id": run_id, "directory": str(target), "files": list(rel_paths)}
    atomic_write(target / REPORT_NAME, report_json({**report, "archive": info}).encode("utf-8"))
    _crash_point("report")
    return info


def _read_index(source: Path, run_id: str, tree: LegacyTree) -> dict:
    index_path = source / INDEX_NAME
    if not index_path.is_file():
        raise StorageSettingsError(f"no archived run {run_id!r} under {tree.archive} (missing {INDEX_NAME})")
    try:
        return json.loads(index_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise StorageSettingsError(f"archived run {run_id!r}: cannot read {index_path}: {exc}") from None


def restore_archive(tree: LegacyTree, run_id: str) -> dict:
    """Move the files of an archived run back to their places (also after a crash of the
    archive step: files still in place are left there). Blocking: run it in a thread.

    Returns ``{"run_id", "state", "restored", "in_place", "conflicts", "missing", "checksum_mismatch"}``."""
    source = archive_dir(tree, run_id)
    index = _read_index(source, run_id, tree)
    sums = {e["path"]: e.get("sha256") for e in index.get("entries", []) if isinstance(e, dict)}
    restored, in_place, conflicts, missing, mismatch = [], [], [], [], []
    for rel in index.get("files", []):
        src, dst = source / rel, tree.root / rel
        if not src.exists():
            (in_place if dst.exists() else missing).append(rel)
            continue
        if dst.exists():
            conflicts.append(rel)
            continue
        _make_dirs(dst.parent, tree.root)
        os.replace(src, dst)
        fsync_directory(dst.parent)
        fsync_directory(src.parent)
        restored.append(rel)
    for rel in restored + in_place:
        if sums.get(rel) and file_sha256(tree.root / rel) != sums[rel]:
            mismatch.append(rel)
    return {"run_id": run_id, "state": index.get("state", "complete"), "restored": restored, "in_place": in_place,
            "conflicts": conflicts, "missing": missing, "checksum_mismatch": mismatch}
