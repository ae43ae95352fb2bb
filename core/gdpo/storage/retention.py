"""Retention: delete raw time series older than ``retention.days``, keep hourly rollups first.

Policy (``data_storage.retention``):

* ``energy_data`` and ``system_state``: raw records older than ``days`` (default 30;
  ``per_kind`` overrides) are deleted;
* ``price_forecasts`` and ``pv_forecasts`` are kept (they are small, and a backtest over old
  history needs the prices); ``per_kind`` may name them to trim them too;
* ``coordinator_decisions`` are kept (``keep_decisions: false`` applies ``days`` to them);
* ``charging_sessions``, ``battery_selling_sessions`` and ``daily_stats`` are always kept;
* before raw ``energy_data`` goes, every hour and every quarter-hour of it is rolled up
  (``gdpo.storage.rollups``; the quarter-hours keep a backtest and the year view working on
  old history); the cutoff is aligned down to a whole UTC hour so an hour is rolled up only
  once complete. Rollups are never deleted.

The job runs daily at ``run_at`` (local time) in a long-running process and on demand with
``gdpo db retention [--dry-run]``. It is idempotent: an interrupted run is completed by the
next one (rollups are upserts; rolling up happens before deleting).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from gdpo.storage.aggregate import make_spec, zone
from gdpo.storage.records import LOCAL_TZ_NAME, UTC, record_class
from gdpo.storage.rollups import (ROLLUP_KINDS, compute_hourly, compute_quarters, floor_hour, merge_late,
                                  quarter_kind, write_daily)

log = logging.getLogger(__name__)

TIMESERIES_RETAINED = ("energy_data", "system_state")
ALWAYS_KEPT = ("charging_sessions", "battery_selling_sessions", "daily_stats")
FAR_PAST = _dt.datetime(1970, 1, 2, tzinfo=UTC)
CHUNK = _dt.timedelta(days=1)


@dataclass(frozen=True)
class RetentionPolicy:
    """Which kinds are trimmed, after how many days, and when the daily job runs."""

    days: int = 30
    per_kind: Mapping[str, int] = field(default_factory=dict)
    keep_decisions: bool = True
    rollups: bool = True
    run_at: str = "03:30"
    schedule: bool = True
    tz: str = LOCAL_TZ_NAME

    @classmethod
    def from_config(cls, ds: Mapping[str, Any]) -> "RetentionPolicy":
        """The policy of a validated ``data_storage`` mapping."""
        r = ds.get("retention") or {}
        return cls(days=r.get("days", 30), per_kind=dict(r.get("per_kind") or {}),
                   keep_decisions=r.get("keep_decisions", True), rollups=r.get("rollups", True),
                   run_at=r.get("run_at", "03:30"), schedule=r.get("schedule", True))

    def days_for(self) -> dict[str, int]:
        """Days kept per trimmed kind."""
        kinds = list(TIMESERIES_RETAINED)
        if not self.keep_decisions:
            kinds.append("coordinator_decisions")
        for k in self.per_kind:
            if k not in kinds and k not in ALWAYS_KEPT:
                kinds.append(k)
        return {k: int(self.per_kind.get(k, self.days)) for k in kinds}

    def cutoffs(self, now: _dt.datetime) -> dict[str, _dt.datetime]:
        """The UTC instant before which each trimmed kind is deleted (whole hours)."""
        return {k: floor_hour(now - _dt.timedelta(days=d)) for k, d in self.days_for().items()}

    def next_run(self, now: _dt.datetime) -> _dt.datetime:
        """The next ``run_at`` local time after ``now`` (aware UTC)."""
        hh, mm = (int(x) for x in self.run_at.split(":"))
        local = now.astimezone(zone(self.tz))
        day = local.date()
        for _ in range(3):
            candidate = _dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=zone(self.tz)).astimezone(UTC)
            if candidate > now:
                return candidate
            day += _dt.timedelta(days=1)
        return now + _dt.timedelta(days=1)


async def _oldest(storage, kind: str):
    rows = await storage.read(kind, FAR_PAST, _dt.datetime(9999, 1, 1, tzinfo=UTC), limit=1)
    return rows[0].time if rows else None


async def _count_before(storage, kind: str, cutoff) -> int:
    oldest = await _oldest(storage, kind)
    if oldest is None or oldest >= cutoff:
        return 0
    backend = storage.backend_for(kind)
    if backend.capabilities.aggregate and "mo" in backend.capabilities.time_buckets:
        field_name = record_class(kind).SPEC.numeric_fields[0]
        spec = make_spec(kind, oldest, cutoff, "1mo", {field_name: "count"})
        return sum(b["count"] for b in await backend.aggregate(spec))
    return len(await storage.read(kind, oldest, cutoff))


async def roll_up(storage, kind: str, cutoff: _dt.datetime) -> int:
    """Write hourly rollups of every raw record of ``kind`` older than ``cutoff``; return how many hours."""
    oldest = await _oldest(storage, kind)
    if oldest is None or oldest >= cutoff:
        return 0
    store = storage.rollup_store(kind)
    written = 0
    t = floor_hour(oldest)
    while t < cutoff:
        end = min(t + CHUNK, cutoff)
        records = await storage.read(kind, t, end)
        for key, fresh in ((kind, compute_hourly(kind, records)), (quarter_kind(kind), compute_quarters(kind, records))):
            if fresh:
                existing = {r.start: r for r in await store.read_rollups(key, t, end)}
                n = await store.write_rollups(key, [merge_late(r, existing.get(r.start)) for r in fresh])
                written += n if key == kind else 0
        t = end
    # daily rollups of the local days now complete (the first one may hold earlier hours)
    await write_daily(store, kind, floor_hour(oldest), cutoff)
    return written


async def run_retention(storage, *, now: _dt.datetime | None = None, dry_run: bool = False,
                        policy: RetentionPolicy | None = None) -> dict[str, Any]:
    """Apply the retention policy once; with ``dry_run`` only count what would go.

    Returns ``{"now", "dry_run", "kinds": {kind: {"days", "cutoff", "records", "rollup_hours"}}}``
    where ``records`` is deleted (or would be, on a dry run).
    """
    policy = policy or storage.retention_policy
    now = now or _dt.datetime.now(UTC)
    await storage.flush()
    report: dict[str, Any] = {"now": now.isoformat(), "dry_run": dry_run, "kinds": {}}
    days = policy.days_for()
    for kind, cutoff in policy.cutoffs(now).items():
        entry = {"days": days[kind], "cutoff": cutoff.isoformat(), "records": 0, "rollup_hours": 0}
        report["kinds"][kind] = entry
        if not storage.backend_for(kind).capabilities.delete:
            entry["skipped"] = "backend cannot delete"
            continue
        if dry_run:
            entry["records"] = await _count_before(storage, kind, cutoff)
            continue
        if policy.rollups and kind in ROLLUP_KINDS:
            entry["rollup_hours"] = await roll_up(storage, kind, cutoff)
        entry["records"] = await storage.delete_older_than(kind, cutoff)
        if entry["records"]:
            log.info("retention: deleted %d %s records older than %s", entry["records"], kind, cutoff.isoformat())
    return report


async def retention_schedule(storage, policy: RetentionPolicy) -> None:
    """Run the retention job daily at ``policy.run_at`` local time (until cancelled)."""
    while True:
        now = _dt.datetime.now(UTC)
        await asyncio.sleep(max(1.0, (policy.next_run(now) - now).total_seconds()))
        try:
            await run_retention(storage, policy=policy)
        except Exception as exc:  # a failed run is retried the next day; the process goes on
            log.error("retention job failed: %s", exc)
