"""``--archive`` and ``--restore-archive``: move imported legacy files aside, and back.

After a successful, validated run the fully imported files move to
``out/archive/<run-id>/`` under their relative paths, with the report and an index
(``archive_index.json``) beside them. Nothing is deleted. Restoring moves every file back
to its place; a file whose place is taken again is left in the archive and listed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from gdpo.migrate.legacy_write import atomic_write
from gdpo.migrate.report import report_json
from gdpo.migrate.tree import LegacyTree
from gdpo.config import ConfigError

INDEX_NAME = "archive_index.json"
REPORT_NAME = "migration_report.json"
_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def archive_dir(tree: LegacyTree, run_id: str) -> Path:
    """The directory of one archived run (the run id is checked: no path tricks)."""
    if not _RUN_ID.match(run_id or ""):
        raise ConfigError(f"invalid archive run id {run_id!r}")
    return tree.archive / run_id


def archive_files(tree: LegacyTree, run_id: str, rel_paths: list[str], report: dict) -> dict:
    """Move ``rel_paths`` into the run's archive directory; write the index and the report."""
    target = archive_dir(tree, run_id)
    moved: list[str] = []
    for rel in rel_paths:
        src = tree.root / rel
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(src, dst)
        moved.append(rel)
    info = {"run_id": run_id, "directory": str(target), "files": moved}
    atomic_write(target / INDEX_NAME, json.dumps(info, indent=2).encode("utf-8"))
    atomic_write(target / REPORT_NAME, report_json({**report, "archive": info}).encode("utf-8"))
    return info


def restore_archive(tree: LegacyTree, run_id: str) -> dict:
    """Move the files of an archived run back to their places."""
    source = archive_dir(tree, run_id)
    index_path = source / INDEX_NAME
    if not index_path.is_file():
        raise ConfigError(f"no archived run {run_id!r} under {tree.archive} (missing {INDEX_NAME})")
    info = json.loads(index_path.read_text("utf-8"))
    restored, conflicts, missing = [], [], []
    for rel in info.get("files", []):
        src, dst = source / rel, tree.root / rel
        if not src.exists():
            missing.append(rel)
        elif dst.exists():
            conflicts.append(rel)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            restored.append(rel)
    return {"run_id": run_id, "restored": restored, "conflicts": conflicts, "missing": missing}
