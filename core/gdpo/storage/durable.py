"""Durable file steps shared by the storage core, the backends and the migration."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_directory(directory: str | os.PathLike) -> None:
    """fsync a directory, so that a file created, renamed or removed in it survives a power cut (blocking)."""
    fd = os.open(Path(directory), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
