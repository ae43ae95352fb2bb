"""The Savings page's numbers: ``gdpo backtest`` over a range of stored days, computed in the
background so that the page answers at once.

A page request never waits for a replay. It gets the result of its range when one is ready
(computed over the readings stored up to :attr:`Outcome.as_of`, at most a quarter-hour older
than the newest); otherwise it starts the computation in a background task and says
"computing". An older result is shown, labelled with the time of its newest reading, while a
newer one is computed. The default range (the last 7 stored days) is computed when the app
starts and again when a new day arrives (:func:`keep_warm`). The replay is read from storage on the event loop (async
reads); the strategies run in a worker thread.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any

from gdpo.storage.aggregate import zone
from gdpo.web import data

log = logging.getLogger(__name__)

DEFAULT_STRATEGIES = ("none", "self", "rules")
ALL_STRATEGIES = ("none", "self", "rules", "optimiser", "optimum")
KEEP_RESULTS = 4  # results kept (the default range and a few chosen ones)
WARM_CHECK_S = 300.0  # how often keep_warm looks for a new day
FRESH = _dt.timedelta(minutes=15)  # a result over readings this close to the newest is current (one quarter)


@dataclass
class Outcome:
    """What the page can show of a range: ``state`` is ``ready`` (``result`` over readings up
    to ``as_of``), ``stale`` (a ready result over older readings while a newer one is
    computed), ``computing`` (nothing to show yet) or ``failed`` (``error``: the
    BacktestError's message)."""

    state: str
    result: dict[str, Any] | None = None
    as_of: _dt.datetime | None = None
    error: str | None = None


@dataclass
class _Done:
    newest: _dt.datetime | None
    result: dict[str, Any] | None
    error: str | None


@dataclass
class SavingsState:
    """Results per (first, last, strategies, simulated) and the computations running."""

    done: dict[tuple, _Done] = field(default_factory=dict)
    running: dict[tuple, asyncio.Task] = field(default_factory=dict)
    failure: dict[tuple, BaseException] = field(default_factory=dict)
    warm_task: asyncio.Task | None = None
    stopping: asyncio.Event | None = None


def state_of(ctx) -> SavingsState:
    """The app's SavingsState (made on first use)."""
    st = ctx.cache.get("savings")
    if st is None:
        st = ctx.cache["savings"] = SavingsState()
    return st


async def default_range(ctx) -> tuple[_dt.date, _dt.date] | None:
    """The last 7 stored days (ending with the day of the newest reading), or None."""
    newest = await data.latest(ctx.storage, "energy_data")
    if newest is None:
        return None
    last = newest.ts.astimezone(zone(ctx.tz)).date()
    return last - _dt.timedelta(days=6), last


async def compute(ctx, first: _dt.date, last: _dt.date, strategies=DEFAULT_STRATEGIES,
                  include_simulated: bool = False) -> dict[str, Any]:
    """The backtest result of local days first..last (inclusive), computed now; raises
    BacktestError. Simulated runs and sample prices are replayed only with ``include_simulated``."""
    from gdpo.coordinator.backtest import local_day_range, run_backtest
    from gdpo.coordinator.backtest_data import load_replay
    from gdpo.coordinator.optimiser import quiet_solver_banner
    from gdpo.coordinator.settings import defaults

    config = {name: ctx.config.section(name) or defaults()[name] for name in defaults()}
    start, end = local_day_range(first, last, ctx.tz)
    async with data.backend_of(ctx.storage, "energy_data"):
        replay = await load_replay(ctx.storage, start, end, config, ctx.config.section("tariffs"),
                                   ctx.config.section("prices"), include_simulated=include_simulated)
    quiet_solver_banner()
    return await asyncio.to_thread(run_backtest, replay, list(strategies))


async def _run(ctx, key: tuple, newest: _dt.datetime | None) -> None:
    from gdpo.coordinator.backtest import BacktestError

    st = state_of(ctx)
    first, last, strategies, simulated = key
    try:
        result = await compute(ctx, first, last, strategies, simulated)
        st.done.pop(key, None)  # re-inserted: the dict's order is oldest first
        st.done[key] = _Done(newest, result, None)
    except BacktestError as exc:
        st.done.pop(key, None)
        st.done[key] = _Done(newest, None, str(exc))
    except Exception as exc:  # a backend down: the next request raises it, then retries
        log.warning("savings %s..%s: %s: %s", first, last, type(exc).__name__, exc)
        st.failure[key] = exc
    finally:
        st.running.pop(key, None)
    while len(st.done) > KEEP_RESULTS:
        del st.done[next(iter(st.done))]


def _current(computed: _dt.datetime | None, newest: _dt.datetime | None) -> bool:
    """A result over readings up to ``computed`` still stands for the newest reading: the same,
    or less than a quarter-hour older (a live system stores a reading every few seconds)."""
    if computed is None or newest is None:
        return computed == newest
    return _dt.timedelta(0) <= newest - computed < FRESH


def _start(ctx, key: tuple, newest: _dt.datetime | None) -> None:
    st = state_of(ctx)
    if key not in st.running:
        st.running[key] = asyncio.get_running_loop().create_task(_run(ctx, key, newest), name=f"savings {key[:2]}")


async def lookup(ctx, first: _dt.date, last: _dt.date, strategies=DEFAULT_STRATEGIES,
                 include_simulated: bool = False) -> Outcome:
    """What there is to show of the range now, starting its computation when the stored
    readings are newer than its result (or there is none). Never waits for a replay; a
    backend that failed during the last computation is raised (BackendDown) once."""
    st = state_of(ctx)
    key = (first, last, tuple(strategies), include_simulated)
    if key in st.failure:
        raise st.failure.pop(key)
    reading = await data.latest(ctx.storage, "energy_data")
    newest = reading.ts if reading else None
    done = st.done.get(key)
    if done is not None and _current(done.newest, newest):
        return Outcome("failed" if done.error else "ready", done.result, done.newest, done.error)
    _start(ctx, key, newest)
    if done is not None and done.error is None:
        return Outcome("stale", done.result, done.newest)
    return Outcome("computing")


async def wait_ready(ctx, first, last, strategies=DEFAULT_STRATEGIES, include_simulated: bool = False,
                     timeout_s: float = 60.0) -> Outcome:
    """:func:`lookup` until the range is ready or failed (for tests and the benchmark)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        outcome = await lookup(ctx, first, last, strategies, include_simulated)
        if outcome.state in ("ready", "failed") or loop.time() > deadline:
            return outcome
        await asyncio.sleep(0.02)


async def keep_warm(ctx, every_s: float | None = None) -> None:
    """Compute the default range now and again whenever it moves to a new day, until
    :func:`stop_warm` (which it waits for between checks, never in the middle of a read)."""
    stopping = state_of(ctx).stopping
    seen = None
    while not stopping.is_set():
        try:
            default = await default_range(ctx)
            if default is not None and default != seen:
                await lookup(ctx, *default)
                seen = default
        except Exception as exc:  # a backend down: try again later
            log.warning("savings warm-up: %s: %s", type(exc).__name__, exc)
        try:
            await asyncio.wait_for(stopping.wait(), every_s or WARM_CHECK_S)
        except asyncio.TimeoutError:
            pass


def ensure_warm(ctx) -> None:
    """Start :func:`keep_warm` in the running loop once (at app start or the first request)."""
    st = state_of(ctx)
    if st.warm_task is None or st.warm_task.done():
        st.stopping = asyncio.Event()
        st.warm_task = asyncio.get_running_loop().create_task(keep_warm(ctx), name="savings warm-up")


async def stop_warm(ctx, timeout_s: float = 10.0) -> None:
    """Stop the warm-up loop and let the running computations end (cancelled after
    ``timeout_s``), so that no read is left in flight when the storage closes."""
    st = state_of(ctx)
    if st.warm_task is not None:
        st.stopping.set()
        await asyncio.gather(st.warm_task, return_exceptions=True)
    running = list(st.running.values())
    if running:
        _, late = await asyncio.wait(running, timeout=timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
