"""SQLite errors as clear storage errors, and which of them are worth a retry.

Busy/locked databases and transient I/O errors are retried with exponential backoff (tenacity);
constraint violations and anything else are raised at once. Corruption, a full disk and
a read-only location become errors that name the file (and, for corruption, the steps
that recover the data).
"""

from __future__ import annotations

import logging
import random
import sqlite3
from typing import Awaitable, Callable, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from gdpo.storage import StorageConnectionError, StorageCorruptError, StorageError

log = logging.getLogger("gdpo_sqlite")
T = TypeVar("T")

SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY = 3, 5, 6, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN = 10, 11, 13, 14
SQLITE_PROTOCOL, SQLITE_CONSTRAINT, SQLITE_NOTADB = 15, 19, 26
TRANSIENT_CODES = frozenset({SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_PROTOCOL})
RETRY_ATTEMPTS = 6
RETRY_BASE_DELAY_S = 0.05
RETRY_MAX_DELAY_S = 2.0


def primary_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of an sqlite3 error (None if it has none)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return SQLITE_BUSY
        if "malformed" in text:
            return SQLITE_CORRUPT
        if "not a database" in text:
            return SQLITE_NOTADB
        return None
    return code & 0xFF


def is_transient(exc: BaseException) -> bool:
    """True for busy/locked and transient I/O errors; never for constraint errors."""
    if isinstance(exc, sqlite3.IntegrityError) or not isinstance(exc, sqlite3.OperationalError):
        return False
    return primary_code(exc) in TRANSIENT_CODES


def recovery_steps(path: str) -> str:
    """What to do with a damaged database file (it is left exactly as it is)."""
    return (f"The file was left untouched. To recover: stop gdpo; run `gdpo db recover {path} <new file>` to copy "
            f"every readable row into a new database (or restore a backup made with `gdpo db backup`); then point "
            f"data_storage.sqlite.path (or DATABASE_PATH) at the new file. Keep {path} until the new one is checked.")


def corrupt_error(path: str, detail: str) -> StorageCorruptError:
    """The error for a corrupt or foreign file at ``path``."""
    return StorageCorruptError(f"{path}: {detail}. gdpo will not open it. {recovery_steps(path)}")


def translate(exc: BaseException, path: str, doing: str) -> StorageError:
    """An sqlite3 error as a StorageError naming the file and what was being done."""
    code = primary_code(exc)
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return corrupt_error(path, f"the database is corrupt ({exc}) while {doing}")
    if code == SQLITE_FULL:
        return StorageConnectionError(f"{path}: the disk holding the database is full while {doing} ({exc}); "
                                      f"free space there, nothing of this batch was stored")
    if code in (SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN):
        return StorageConnectionError(f"{path}: the database location cannot be written while {doing} ({exc}); "
                                      f"check the permissions and that the file system is not read-only")
    if code in TRANSIENT_CODES:
        return StorageConnectionError(f"{path}: still busy after {RETRY_ATTEMPTS} attempts while {doing} ({exc})")
    if isinstance(exc, sqlite3.IntegrityError):
        return StorageError(f"{path}: constraint violated while {doing}: {exc}")
    return StorageError(f"{path}: SQLite error while {doing}: {exc}")


def _backoff_s(state: RetryCallState) -> float:
    """The wait after failed attempt ``n``: ``RETRY_BASE_DELAY_S`` doubling up to
    ``RETRY_MAX_DELAY_S``, times a jitter of 0.5-1.5 (writers that collided do not collide again)."""
    schedule = wait_exponential(multiplier=RETRY_BASE_DELAY_S, max=RETRY_MAX_DELAY_S)
    return schedule(state) * (0.5 + random.random())


async def _retry_after(failed: BaseException, operation: Callable[[], Awaitable[T]], retrying: AsyncRetrying) -> T:
    """The attempts after a first one that raised ``failed``: tenacity counts it as attempt 1,
    waits, runs ``operation`` again and applies its stop and retry rules as if it had made the
    first attempt itself (``retrying`` has ``reraise=True``: the last error propagates as it is)."""
    async for attempt in retrying:
        with attempt:
            if attempt.retry_state.attempt_number == 1:
                raise failed
            return await operation()
    raise AssertionError("unreachable: tenacity stopped without an outcome")


async def with_retry(operation: Callable[[], Awaitable[T]], path: str, doing: str,
                     attempts: int = RETRY_ATTEMPTS) -> T:
    """Run ``operation``; on a transient error wait (backoff with jitter) and run it again.

    The operation must be safe to repeat (a whole transaction, rolled back on failure).
    Other sqlite3 errors are translated at once (see :func:`translate`). The first attempt is
    a plain ``await``: every read and write passes here, and tenacity costs some 20 µs a call
    even when nothing fails (+40 % on a 1-row read, ``benchmarks/libs_bench.py``). Only after
    a transient error does tenacity take over (see :func:`_retry_after`).
    """
    try:
        return await operation()
    except sqlite3.Error as exc:
        if not is_transient(exc) or attempts <= 1:
            raise translate(exc, path, doing) from exc
        first_error = exc

    def log_retry(state: RetryCallState) -> None:
        log.warning("%s: %s while %s; retry %d/%d in %.2fs", path, state.outcome.exception(), doing,
                    state.attempt_number, attempts - 1, state.next_action.sleep)

    retrying = AsyncRetrying(stop=stop_after_attempt(attempts), wait=_backoff_s, retry=retry_if_exception(is_transient),
                             before_sleep=log_retry, reraise=True)
    try:
        return await _retry_after(first_error, operation, retrying)
    except sqlite3.Error as exc:
        raise translate(exc, path, doing) from exc
