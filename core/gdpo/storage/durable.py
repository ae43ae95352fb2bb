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


def atomic_write(path: Path, data: bytes, *, file_mode: int = 0o600, dir_mode: int = 0o700,
                 temp_suffix: str = ".gdpo-tmp") -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same directory, fsync, rename,
    fsync of the directory. Readers see the old content or the new, never a part (blocking)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    tmp = path.with_name(path.name + temp_suffix)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_directory(path.parent)
