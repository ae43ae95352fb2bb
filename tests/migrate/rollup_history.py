"""A storage whose older history exists only as rollups: 20 days of energy data, retention at 5."""

from __future__ import annotations

import datetime as _dt
import math

from gdpo.storage import open_storage
from gdpo.storage.retention import run_retention
from gdpo.storage.testkit.samples import energy_series

START = _dt.datetime(2025, 10, 14, 22, 0, tzinfo=_dt.timezone.utc)  # local midnight; spans the DST change
DAYS = 20
STEP_S = 900  # 4 samples an hour: 1,920 rows
NOW = START + _dt.timedelta(days=DAYS, minutes=7)
RETENTION = {"days": 5, "schedule": False}
FAR_PAST = _dt.datetime(1990, 1, 1, tzinfo=_dt.timezone.utc)
FAR_FUTURE = _dt.datetime(2100, 1, 1, tzinfo=_dt.timezone.utc)
FIELDS = {"pv_power_w": ["avg", "min", "max", "sum", "count", "first", "last"],
          "grid_power_w": ["avg", "sum"], "grid_import_total_kwh": ["first", "last"], "battery_soc_pct": "avg"}


def series():
    """The 20 days of samples (a few missing values)."""
    recs = energy_series(START, DAYS * 24 * 3600 // STEP_S, step_s=STEP_S, seed=5)
    return [r.replace(pv_power_w=None) if i % 17 == 0 else r for i, r in enumerate(recs)]


async def daily(storage) -> list[dict]:
    """Daily aggregates over the whole history."""
    return await storage.aggregate("energy_data", FAR_PAST, FAR_FUTURE, every="1d", fields=FIELDS)


async def make_history(config: dict) -> tuple[list[dict], list[dict], dict]:
    """Write the samples into ``config``'s storage and apply retention; returns the daily
    aggregates before and after retention, and the retention report."""
    cfg = {**config, "retention": RETENTION}
    async with open_storage(cfg, background=False) as s:
        await s.write("energy_data", series())
        before = await daily(s)
        report = await run_retention(s, now=NOW)
        after = await daily(s)
    return before, after, report


def assert_close(got: list[dict], want: list[dict]) -> None:
    """Same buckets and counts; values equal up to float summation order."""
    assert [b["bucket"] for b in got] == [b["bucket"] for b in want]
    for g, w in zip(got, want):
        assert g.keys() == w.keys()
        for name, value in w.items():
            if isinstance(value, float):
                assert math.isclose(g[name], value, rel_tol=1e-9, abs_tol=1e-9), (g["bucket"], name)
            else:
                assert g[name] == value, (g["bucket"], name)


async def raw_count(config: dict) -> int:
    """Raw energy rows in ``config``'s storage."""
    async with open_storage({**config, "retention": RETENTION}, background=False) as s:
        return len(await s.read("energy_data", FAR_PAST, FAR_FUTURE))


async def whole_history(config: dict) -> list[dict]:
    """The daily aggregates of ``config``'s storage."""
    async with open_storage({**config, "retention": RETENTION}, background=False) as s:
        return await daily(s)
