"""Where a legacy tree lives: its root, ``out/`` and ``data/`` directories, and its files.

A ``json_legacy`` directory is either a project root holding ``out/`` (and ``data/``), or the
``out/`` directory itself (then ``data/`` is its sibling). Report paths are relative to the
root (``out/energy_data/...``, ``data/price_history.json``), as in the sample manifest.
``out/archive/`` (where ``--archive`` moves imported files) is never scanned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ARCHIVE_DIR = "archive"
TEMP_SUFFIX = ".gdpo-tmp"


@dataclass(frozen=True)
class LegacyTree:
    """The directories of one legacy tree."""

    root: Path
    out: Path
    data: Path

    @classmethod
    def at(cls, directory: str | os.PathLike) -> "LegacyTree":
        """The tree for a configured directory (a project root, or its ``out/``)."""
        d = Path(directory).expanduser().absolute()
        if d.name == "out":
            return cls(d.parent, d, d.parent / "data")
        return cls(d, d / "out", d / "data")

    @property
    def archive(self) -> Path:
        """``out/archive``: where archived runs go."""
        return self.out / ARCHIVE_DIR

    def rel(self, path: Path) -> str:
        """``path`` relative to the root, with forward slashes."""
        return path.relative_to(self.root).as_posix()

    def scan_roots(self) -> list[Path]:
        """The directories holding legacy files: ``out/`` and ``data/``, or the root itself when
        it has neither (a bare folder of legacy files)."""
        roots = [p for p in (self.out, self.data) if p.is_dir()]
        if roots:
            return roots
        return [self.root] if self.root.is_dir() else []

    def files(self) -> list[Path]:
        """Every ``*.json`` file of the tree, sorted by relative path (archive and temp files left out)."""
        return [Path(path) for _, path, _ in self.entries()]

    def entries(self) -> list[tuple[str, str, int]]:
        """``(relative path, path, size in bytes)`` of every file :meth:`files` lists, in the same order."""
        found: list[tuple[str, str, int]] = []
        root = os.fspath(self.root).rstrip(os.sep) + os.sep
        out, archive = os.fspath(self.out), os.fspath(self.archive)
        for top in self.scan_roots():
            pending = [os.fspath(top)]
            while pending:
                here = pending.pop()
                with os.scandir(here) as listing:
                    for entry in listing:
                        name = entry.name
                        if entry.is_dir(follow_symlinks=False):
                            if not (here == out and name == ARCHIVE_DIR) and entry.path != archive:
                                pending.append(entry.path)
                        elif entry.is_dir():
                            continue  # a link to a directory is not followed (no loops)
                        elif name.endswith(".json") and not name.startswith("."):
                            try:
                                size = entry.stat().st_size
                            except OSError:
                                size = 0  # reading it will say what is wrong
                            rel = entry.path[len(root):].replace(os.sep, "/")
                            found.append((rel, entry.path, size))
        found.sort()
        return found
