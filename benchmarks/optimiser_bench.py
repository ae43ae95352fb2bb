"""The optimiser and the backtest: solve times and a 30-day savings table.

Prints the median time of :func:`gdpo.coordinator.optimiser.solve` (building the programme
and solving it) for 96 and 192 quarters and for a negative-price day that needs binaries,
with its ratio against HiGHS alone on the same programme (``Highs.run``), measured in the
same run; then a 30-day backtest of a synthetic winter household (7 more days before it feed
the forecasts) on a temporary SQLite file: the time of each strategy and the table.
Targets: <= 50 ms for 96 and 192 quarters, <= 1 s with binaries, <= 15 s for the backtest.

    python benchmarks/optimiser_bench.py [--runs 15] [--days 30] [--season winter]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import math
import statistics
import tempfile
import time
from pathlib import Path

from gdpo.commands.backtest import format_table
from gdpo.coordinator import synthetic_history
from gdpo.coordinator.backtest import STRATEGIES, local_day_range, run_backtest
from gdpo.coordinator.backtest_data import load_replay
from gdpo.coordinator.optimiser import BatteryModel, quiet_solver_banner, solve
from gdpo.coordinator.settings import defaults
from gdpo.storage import open_storage

MODEL = BatteryModel()


def day_inputs(n: int, negative: bool):
    """Load, PV, buy and sell of ``n`` quarters: a winter day, or a summer day with negative midday."""
    load, pv, buy = [], [], []
    for t in range(n):
        hour = (t % 96) / 4
        load.append(synthetic_history.load_kw(hour, 2))
        pv.append(synthetic_history.pv_kw(hour, "summer" if negative else "winter"))
        market = synthetic_history.market_pln_kwh(hour, "summer" if negative else "winter", 1.0 + 0.1 * math.sin(t))
        buy.append(market + (0.0 if negative else 0.25))
    return load, pv, buy, [max(b * 0.8, 0.0) for b in buy]


def time_solve(n: int, negative: bool, runs: int) -> tuple[float, float, bool]:
    """(median ms of solve, median ms of Highs.run alone, binaries used)."""
    load, pv, buy, sell = day_inputs(n, negative)
    totals, runs_ms, binaries = [], [], False
    for _ in range(runs):
        plan = solve(load, pv, buy, sell, 40.0, MODEL)
        totals.append(plan.solve_ms)
        runs_ms.append(plan.extra["run_ms"])
        binaries = plan.binaries
    return statistics.median(totals), statistics.median(runs_ms), binaries


async def backtest(days: int, season: str) -> tuple[dict, dict[str, float]]:
    """The backtest result and seconds per strategy."""
    first = _dt.date(2026, 11, 1) if season == "winter" else _dt.date(2026, 6, 1)
    with tempfile.TemporaryDirectory() as d:
        cfg = {"backend": "sqlite", "sqlite": {"path": str(Path(d) / "bench.db")}}
        async with open_storage(cfg) as storage:
            await synthetic_history.store(storage, first, days + 7, season, every_min=5)
            start, end = local_day_range(first + _dt.timedelta(days=7), first + _dt.timedelta(days=days + 6),
                                         "Europe/Warsaw")
            replay = await load_replay(storage, start, end, defaults(), None, None)
    seconds, result = {}, None
    for name in STRATEGIES:
        started = time.perf_counter()
        one = run_backtest(replay, [name])
        seconds[name] = time.perf_counter() - started
        result = one if result is None else {**result, "strategies": {**result["strategies"], **one["strategies"]}}
    return result, seconds


def main() -> None:
    """Run the benchmark and print its tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--season", choices=synthetic_history.SEASONS, default="winter")
    args = ap.parse_args()
    quiet_solver_banner()
    print(f"{'case':<34}{'median ms':>10}{'HiGHS ms':>10}{'ratio':>7}{'target':>9}")
    for n, negative, target in ((96, False, 50), (192, False, 50), (96, True, 1000), (192, True, 1000)):
        total, run, binaries = time_solve(n, negative, args.runs)
        case = f"{n} quarters" + (", negative midday (binaries)" if binaries else "")
        print(f"{case:<34}{total:>10.1f}{run:>10.1f}{total / run:>7.2f}{'<= ' + str(target):>9}")
    result, seconds = asyncio.run(backtest(args.days, args.season))
    print()
    print(format_table(result))
    print()
    print("backtest seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items())
          + f"; all {sum(seconds.values()):.1f} (target <= 15)")


if __name__ == "__main__":
    main()
