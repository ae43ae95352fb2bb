"""The Savings page's numbers: ``gdpo backtest`` over a range of stored days, cached.

The replay is read from storage on the event loop (async reads); the strategies run in a
worker thread. A result is cached per (range, strategies, newest stored reading).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
from typing import Any

from gdpo.storage.aggregate import zone
from gdpo.web import data

DEFAULT_STRATEGIES = ("none", "self", "rules")
ALL_STRATEGIES = ("none", "self", "rules", "optimiser", "optimum")


async def default_range(ctx) -> tuple[_dt.date, _dt.date] | None:
    """The last 7 stored days (ending with the day of the newest reading), or None."""
    newest = await data.latest(ctx.storage, "energy_data")
    if newest is None:
        return None
    last = newest.ts.astimezone(zone(ctx.tz)).date()
    return last - _dt.timedelta(days=6), last


async def backtest(ctx, first: _dt.date, last: _dt.date, strategies=DEFAULT_STRATEGIES,
                   include_simulated: bool = False) -> dict[str, Any]:
    """The backtest result of local days first..last (inclusive); raises BacktestError.
    Simulated runs and sample prices are replayed only with ``include_simulated``."""
    from gdpo.coordinator.backtest import local_day_range, run_backtest
    from gdpo.coordinator.backtest_data import load_replay
    from gdpo.coordinator.optimiser import quiet_solver_banner
    from gdpo.coordinator.settings import defaults

    newest = await data.latest(ctx.storage, "energy_data")
    key = ("backtest", first, last, tuple(strategies), include_simulated, newest.ts if newest else None)
    if key in ctx.cache:
        return ctx.cache[key]
    lock = ctx.cache.setdefault("backtest-lock", asyncio.Lock())
    async with lock:
        if key in ctx.cache:
            return ctx.cache[key]
        config = {name: ctx.config.section(name) or defaults()[name] for name in defaults()}
        start, end = local_day_range(first, last, ctx.tz)
        async with data.backend_of(ctx.storage, "energy_data"):
            replay = await load_replay(ctx.storage, start, end, config, ctx.config.section("tariffs"),
                                       ctx.config.section("prices"), include_simulated=include_simulated)
        quiet_solver_banner()
        result = await asyncio.to_thread(run_backtest, replay, list(strategies))
        for k in [k for k in ctx.cache if isinstance(k, tuple) and k[0] == "backtest"]:
            del ctx.cache[k]  # one result kept: the newest
        ctx.cache[key] = result
        return result
