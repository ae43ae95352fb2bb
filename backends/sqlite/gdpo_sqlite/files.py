"""The database file on disk: its directory and permissions, and recognising a gdpo database.

A missing directory is created with ``dir_mode`` (0700), a new file with ``file_mode``
(0600); SQLite gives its -wal and -shm files the mode of the database file. A location
that cannot be written, a file that is not SQLite, and an SQLite file of another
application all stop start-up with a message naming the path; nothing is ever renamed,
truncated or deleted.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from gdpo.storage import StorageConnectionError, StorageCorruptError, StorageError

from gdpo_sqlite.sqlerrors import corrupt_error

SQLITE_HEADER = b"SQLite format 3\x00"
APPLICATION_ID = 1734635631  # b"gdpo" as a big-endian 32-bit integer, set by migration 1


def parse_mode(value: str | int, option: str) -> int:
    """An octal permission string such as ``"0600"`` as an int; a bad one names the option."""
    if isinstance(value, int):
        return value
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise StorageError(f"data_storage.sqlite.{option}: {value!r} is not an octal mode such as 0600") from None
    if not 0 <= mode <= 0o777:
        raise StorageError(f"data_storage.sqlite.{option}: {value!r} is outside 0000..0777")
    return mode


def _cannot(path: Path, what: str, exc: OSError) -> StorageConnectionError:
    reason = {errno.EROFS: "the file system is read-only", errno.ENOSPC: "the disk is full",
              errno.EACCES: "permission denied", errno.EPERM: "permission denied"}.get(exc.errno, exc.strerror)
    hint = ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = ("; set data_storage.sqlite.path (or the environment variable DATABASE_PATH) to a file in a "
                "directory this user can write, or run as the user that owns it")
    return StorageConnectionError(f"{path}: cannot {what}: {reason}{hint}")


def prepare_location(path: Path, file_mode: int, dir_mode: int) -> bool:
    """Create the directory and an empty database file if missing; return True if the file is new.

    Raises StorageConnectionError naming the path when the location cannot be written,
    and StorageCorruptError when an existing file is not an SQLite database.
    """
    directory = path.parent
    if not directory.exists():
        try:
            os.makedirs(directory, mode=dir_mode, exist_ok=True)
            os.chmod(directory, dir_mode)
        except OSError as exc:
            raise _cannot(directory, f"create the database directory for {path}", exc) from None
    elif not directory.is_dir():
        raise StorageConnectionError(f"{path}: {directory} is not a directory")
    try:
        exists = path.exists()
    except OSError as exc:  # the directory exists but this user may not look into it
        raise _cannot(path, "open the database file", exc) from None
    if exists:
        if not path.is_file():
            raise StorageConnectionError(f"{path}: exists and is not a regular file")
        check_header(path)
        if not os.access(path, os.R_OK | os.W_OK) or not os.access(directory, os.W_OK | os.X_OK):
            raise StorageConnectionError(f"{path}: the database (or its directory {directory}) is read-only; "
                                         f"gdpo needs to write both (the -wal and -shm files live next to it)")
        return path.stat().st_size == 0
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, file_mode)
        try:
            os.fchmod(fd, file_mode)
        finally:
            os.close(fd)
    except FileExistsError:  # another process created it a moment ago
        return False
    except OSError as exc:
        raise _cannot(path, "create the database file", exc) from None
    return True


def check_header(path: Path) -> None:
    """Refuse a non-empty file that does not start with the SQLite header."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise _cannot(path, "read the database file", exc) from None
    if head and head != SQLITE_HEADER:
        raise corrupt_error(str(path), "is not an SQLite database (its first bytes are not the SQLite header); "
                                       "it is corrupt or a file of another program")


def check_gdpo_database(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse an SQLite database that belongs to another application."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if app_id not in (0, APPLICATION_ID) or (names and app_id == 0 and "schema_migrations" not in names):
        shown = ", ".join(sorted(names)[:5]) or "none"
        raise StorageCorruptError(
            f"{path}: is an SQLite database of another application (application_id {app_id}, tables: {shown}), "
            f"not a gdpo database. gdpo will not open it and left it untouched. It is not damaged: the config "
            f"points at the wrong file. Set data_storage.sqlite.path (or DATABASE_PATH) to gdpo's database, "
            f"or to a new file that `gdpo db init` creates")
