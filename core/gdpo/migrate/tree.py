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
        found: list[Path] = []
        archive = self.archive
        for top in self.scan_roots():
            for dirpath, dirnames, filenames in os.walk(top):
                here = Path(dirpath)
                if here == self.out:
                    dirnames[:] = [d for d in dirnames if d != ARCHIVE_DIR]
                elif here == archive:
                    dirnames[:] = []
                    continue
                dirnames.sort()
                for name in filenames:
                    if name.endswith(".json") and not name.startswith("."):
                        found.append(here / name)
        return sorted(found, key=lambda p: self.rel(p))
