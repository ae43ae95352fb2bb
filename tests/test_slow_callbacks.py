"""No blocking work on the event loop: a simulated coordinator run and a migration of a
generated legacy tree run under asyncio debug mode with a 100 ms slow-callback limit, and any
"Executing ... took" warning of asyncio fails the test (a scan, a lock, a stat, YAML or a
whole-file read done in a coroutine instead of a worker thread). A slow step with no blocking
call seen, twice in a row, is CPU work: it fails above ``CPU_STEP_LIMIT_S``."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as _dt
import fcntl
import io
import logging
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from gdpo.migrate.runner import MigrationOptions, migrate
from gdpo_json_legacy.tree import LegacyTree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from legacy_tree import generate_tree  # noqa: E402

SLOW_CALLBACK_S = 0.1


class _SlowCallbacks(logging.Handler):
    """Collects asyncio's slow-callback warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and " took " in message:
            self.messages.append(message)


# A slow disk: each of these calls made by a coroutine (on the event loop's thread) takes longer
# than the slow-callback limit, so asyncio reports the callback that made it; calls made in
# worker threads (asyncio.to_thread, executors) run at full speed.
_SLOW_DISK_CALLS = [(os, "stat"), (os, "lstat"), (os, "scandir"), (os, "listdir"), (os, "open"), (os, "access"),
                    (os, "mkdir"), (os, "replace"), (os, "rename"), (os, "fsync"), (os, "unlink"),
                    (io, "open"), (builtins, "open"), (fcntl, "flock"), (yaml, "safe_load")]


# asyncio's debug mode itself stats source files (linecache) to record where callbacks come from
_EXEMPT = ("linecache.py", "traceback.py")


def _on_loop_thread() -> bool:
    return asyncio._get_running_loop() is not None


@contextlib.contextmanager
def slow_disk(calls: list[str]):
    """Make file-system calls made on a running event loop's thread slow (and note where)."""
    saved = [(mod, name, getattr(mod, name)) for mod, name in _SLOW_DISK_CALLS]

    def slowed(name, fn):
        def call(*args, **kwargs):
            caller = sys._getframe(1)
            if _on_loop_thread() and not caller.f_code.co_filename.endswith(_EXEMPT):
                where, f = [], caller
                while f is not None and len(where) < 16:
                    where.append(f"{Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}")
                    f = f.f_back
                calls.append(f"{name}{args[:1]!r} from " + " <- ".join(where))
                time.sleep(SLOW_CALLBACK_S * 1.5)
            return fn(*args, **kwargs)
        return call

    for mod, name, fn in saved:
        setattr(mod, name, slowed(name, fn))
    try:
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


def run_watched(coro_fn, *args):
    """Run ``coro_fn(*args)`` in a debug event loop with a slow disk; return (result,
    slow-callback warnings, each with the blocking calls seen on the loop thread)."""
    handler = _SlowCallbacks()
    calls: list[str] = []
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.WARNING)

    async def main():
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = SLOW_CALLBACK_S
        return await coro_fn(*args)

    try:
        with slow_disk(calls):
            result = asyncio.run(main(), debug=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if not handler.messages and not calls:
        return result, []
    return result, handler.messages + ["blocking calls on the loop:", *calls]


def run_checked(make_args, coro_fn):
    """``run_watched`` that tells blocking calls from a busy machine: a blocking file-system
    call on the loop fails at once (the slow disk makes it slow every time); a slow callback
    without one (another process took the CPU) must happen again in a second run to fail."""
    result, slow = run_watched(coro_fn, *make_args())
    if slow and not any(" from " in line for line in slow):
        result, slow = run_watched(coro_fn, *make_args())
    if slow and not any(" from " in line for line in slow):
        # no blocking call, twice: CPU work on the loop; tolerated up to CPU_STEP_LIMIT_S
        slow = [m for m in slow if m.startswith("Executing") and _took(m) > CPU_STEP_LIMIT_S]
    return result, slow


#: A step of pure CPU work (no file-system call on the loop) fails above this; blocking calls
#: are caught at SLOW_CALLBACK_S by the slow disk whatever the machine's load.
CPU_STEP_LIMIT_S = 0.25


def _took(message: str) -> float:
    """The seconds of an asyncio "Executing ... took N seconds" warning."""
    return float(message.rsplit(" took ", 1)[1].split()[0])


def test_a_blocking_call_in_a_coroutine_is_caught(tmp_path):
    """The check can fail: a stat call in a coroutine is reported; the same in a thread is not."""

    async def blocking():
        return tmp_path.exists()

    async def in_thread():
        return await asyncio.to_thread(tmp_path.exists)

    _, slow = run_watched(blocking)
    assert slow and "took" in slow[0] and any("stat" in line for line in slow)
    assert run_watched(in_thread) == (True, [])


@pytest.mark.slow
def test_a_migration_of_a_generated_tree_never_blocks_the_loop(tmp_path):
    tree = tmp_path / "legacy"
    expected = generate_tree(tree, days=4)
    targets = [f"json_legacy:{tmp_path / 'target-tree'}"]
    try:
        import gdpo_sqlite.backend  # noqa: F401

        targets.append(f"sqlite:{tmp_path / 'target.db'}")
    except ImportError:
        pass
    for target in targets:
        report, slow = run_checked(lambda: (MigrationOptions(source=f"json_legacy:{tree}", target=target,
                                                            report_path=str(tmp_path / "report.json")),), migrate)
        assert not slow, f"{target}: blocking work on the event loop:\n" + "\n".join(slow)
        assert report["checksums_match"] is True
        assert {k: v["in_target"] for k, v in report["per_kind"].items()} == expected
    # the archive step too (it moves files and writes the index from a worker thread)
    report, slow = run_watched(migrate, MigrationOptions(source=f"json_legacy:{tree}", target=targets[-1],
                                                         archive=True))  # moves files: run once
    assert not slow, "archive: blocking work on the event loop:\n" + "\n".join(slow)
    assert report["archive"] and not LegacyTree.at(tree).files()


@pytest.mark.slow
def test_a_simulated_coordinator_run_never_blocks_the_loop(tmp_path):
    """``gdpo run --simulate`` (config loaded before the loop, as the command does) for two
    simulated hours on SQLite against the simulator on loopback."""
    from gdpo.commands.run import RunOptions, run_coordinator
    from gdpo.config import load_config
    from gdpo.storage.aggregate import zone
    from tests.coordinator.test_e2e import START, sqlite_storage, write_config

    try:
        import gdpo_sqlite.backend  # noqa: F401
    except ImportError:
        pytest.skip("the SQLite backend is not installed")
    start = START.replace(tzinfo=zone("Europe/Warsaw")).astimezone(_dt.timezone.utc)
    runs = iter(range(2))

    def fresh():
        where = tmp_path / f"run{next(runs)}"
        where.mkdir()
        cfg = load_config(write_config(where, sqlite_storage(where)), env={})
        return cfg, RunOptions(simulate=True, speed=900, duration=_dt.timedelta(hours=2), start=start)

    summary, slow = run_checked(fresh, run_coordinator)
    assert not slow, "blocking work on the event loop:\n" + "\n".join(slow)
    assert summary.end - summary.start >= _dt.timedelta(hours=2) - _dt.timedelta(minutes=5)
