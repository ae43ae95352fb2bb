"""What the dashboard shows, read from storage only (``read``, ``latest``, ``aggregate``).

Every function returns JSON-ready values: records as dicts with the field names of
ARCHITECTURE.md, times ISO 8601 with offset. A backend that fails is raised as
:class:`~gdpo.web.params.BackendDown` naming it, never answered as an empty list.
"""

from __future__ import annotations

import datetime as _dt
from contextlib import asynccontextmanager
from typing import Any, Iterable, Sequence

from gdpo.prices.model import SOURCE_DAY_AHEAD, SOURCE_EXPORT
from gdpo.prices.tariffs import TariffConfig, priced
from gdpo.storage.aggregate import local_midnight_utc, zone
from gdpo.storage.errors import RecordValidationError, StorageError, UnknownKindError
from gdpo.storage.records import KINDS
from gdpo.web.params import ApiError, BackendDown

UTC = _dt.timezone.utc
ENERGY_FIELDS = KINDS["energy_data"].numeric_fields
DEFAULT_ENERGY_FIELDS = ("battery_soc_pct", "pv_power_w", "house_consumption_w", "grid_power_w", "battery_power_w")
DAILY_SUMS = ("total_consumption_kwh", "total_pv_kwh", "total_grid_import_kwh", "total_grid_export_kwh",
              "grid_charge_kwh", "grid_charge_cost_pln", "selling_revenue_pln")
PRICE_HISTORY_SOURCE = "legacy-price-history"  # market prices migrated from the legacy price history
PRICE_SOURCES = (SOURCE_DAY_AHEAD, SOURCE_EXPORT, PRICE_HISTORY_SOURCE)  # every source a price record can carry
MARKET_SOURCES = (SOURCE_DAY_AHEAD, PRICE_HISTORY_SOURCE)  # market buy prices (fetched or migrated)


def jsonable(value: Any) -> Any:
    """Datetimes and dates as ISO 8601 (datetimes with their offset), containers recursively."""
    if isinstance(value, _dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def record_dict(record: Any) -> dict[str, Any] | None:
    """A record (or None) as a JSON-ready dict of its fields."""
    return None if record is None else jsonable(record.to_dict())


@asynccontextmanager
async def backend_of(storage, kind: str):
    """Turn a failing backend of ``kind`` into :class:`BackendDown` naming it."""
    try:
        yield
    except (RecordValidationError, UnknownKindError, ApiError):
        raise
    except (StorageError, OSError, ConnectionError) as exc:
        raise BackendDown(storage.routes.get(kind, "?"), f"{type(exc).__name__}: {exc}") from None


async def read(storage, kind: str, start, end, **kw) -> list[Any]:
    """``storage.read`` with a failing backend named."""
    async with backend_of(storage, kind):
        return await storage.read(kind, start, end, **kw)


async def latest(storage, kind: str):
    """``storage.latest`` with a failing backend named."""
    async with backend_of(storage, kind):
        return await storage.latest(kind)


async def aggregate(storage, kind: str, start, end, *, every: str, fields, tz: str) -> list[dict[str, Any]]:
    """``storage.aggregate`` with a failing backend named."""
    async with backend_of(storage, kind):
        return await storage.aggregate(kind, start, end, every=every, fields=fields, tz=tz)


def price_rows(records: Iterable[Any], tariff: TariffConfig) -> list[dict[str, Any]]:
    """Stored price records with the final buy price and zone added to day-ahead rows."""
    out = []
    for r in records:
        row = record_dict(r)
        if r.source in MARKET_SOURCES and (r.price_kind or "market") == "market":
            final, z = priced(r.period_start, r.price_pln_kwh, tariff)
            row.update(final_pln_kwh=round(final, 5), tariff_zone=z.name)
        out.append(row)
    return out


async def prices_for_day(storage, day: _dt.date, tz: str, tariff: TariffConfig, source: str | None = None) -> list[dict]:
    """Every stored price of local day ``day`` (optionally of one source), oldest first."""
    start, end = local_midnight_utc(day, tz), local_midnight_utc(day + _dt.timedelta(days=1), tz)
    rows = [r for r in await read(storage, "price_forecasts", start, end) if source is None or r.source == source]
    return price_rows(rows, tariff)


def current_price(rows: Sequence[dict], now: _dt.datetime) -> dict | None:
    """The day-ahead row whose quarter holds ``now``."""
    for r in rows:
        if r["source"] != SOURCE_DAY_AHEAD:
            continue
        t = _dt.datetime.fromisoformat(r["period_start"])
        if t <= now < t + _dt.timedelta(minutes=r.get("period_minutes") or 15):
            return r
    return None


async def status(storage, tz: str, tariff: TariffConfig, now: _dt.datetime) -> dict[str, Any]:
    """The state now: the latest reading, system state and decision, the current price."""
    reading = await latest(storage, "energy_data")
    state = await latest(storage, "system_state")
    decision = await latest(storage, "coordinator_decisions")
    today = now.astimezone(zone(tz)).date()
    price = current_price(await prices_for_day(storage, today, tz, tariff, SOURCE_DAY_AHEAD), now)
    return {"now": now.isoformat(), "timezone": tz, "energy": record_dict(reading), "system_state": record_dict(state),
            "decision": record_dict(decision), "price": price}


async def energy(storage, start, end, every: str | None, fields: Sequence[str], tz: str) -> list[dict[str, Any]]:
    """Raw energy_data (``every`` None) or buckets of averages of ``fields``."""
    if every is None:
        rows = await read(storage, "energy_data", start, end)
        keep = ("ts",) + tuple(fields)
        return [{k: jsonable(getattr(r, k)) for k in keep} for r in rows]
    buckets = await aggregate(storage, "energy_data", start, end, every=every, fields={f: "avg" for f in fields}, tz=tz)
    return [jsonable(b) for b in buckets]


async def decisions(storage, start, end, *, action=None, decision_type=None, limit: int | None = None) -> list[dict]:
    """Decisions in the range (newest first), optionally of one action or type."""
    rows = await read(storage, "coordinator_decisions", start, end, descending=True)
    rows = [r for r in rows if (action is None or r.action == action)
            and (decision_type is None or r.decision_type == decision_type)]
    return [record_dict(r) for r in rows[:limit]]


async def sessions(storage, kind: str, start, end) -> list[dict]:
    """Charging or selling sessions that started in the range, newest first."""
    return [record_dict(r) for r in await read(storage, kind, start, end, descending=True)]


async def daily(storage, first: _dt.date, end: _dt.date) -> list[dict]:
    """daily_stats of local days ``first`` <= date < ``end``."""
    return [record_dict(r) for r in await read(storage, "daily_stats", first, end)]


async def monthly(storage, year: int, tz: str) -> list[dict]:
    """Per local month of ``year``: sums of the daily_stats energies and money, the average
    price, and the same month a year before (the comparison), all by ``storage.aggregate``."""
    fields = {f: "sum" for f in DAILY_SUMS}
    fields["avg_price_pln_kwh"] = "avg"

    async def year_buckets(y: int) -> dict[int, dict]:
        rows = await aggregate(storage, "daily_stats", _dt.date(y, 1, 1), _dt.date(y + 1, 1, 1),
                               every="1mo", fields=fields, tz=tz)
        return {b["bucket"].astimezone(zone(tz)).month: b for b in rows}

    this, before = await year_buckets(year), await year_buckets(year - 1)
    out = []
    for month in sorted(this):
        b = this[month]
        prev = before.get(month)
        item = {"month": f"{year}-{month:02d}", "days": b["count"],
                **{f: _round(b.get(f)) for f in fields}}
        item["net_cost_pln"] = _round((b.get("grid_charge_cost_pln") or 0) - (b.get("selling_revenue_pln") or 0))
        item["previous_year"] = None if prev is None else {"days": prev["count"], **{f: _round(prev.get(f)) for f in fields}}
        out.append(item)
    return out


def _round(v):
    return round(v, 4) if isinstance(v, float) else v


def plan_decision(latest: dict | None, window: Sequence[dict]) -> dict | None:
    """The decision whose plan the Overview marks: ``latest`` when it has one, else the newest
    of ``window`` (decisions newest first) that has one; None when none has."""
    if latest_plan(latest):
        return latest
    return next((d for d in window if latest_plan(d)), None)


def latest_plan(decision: dict | None) -> list[dict]:
    """The plan of a decision (``payload.numbers.plan``), or an empty list."""
    payload = (decision or {}).get("payload") or {}
    plan = (payload.get("numbers") or {}).get("plan") if isinstance(payload, dict) else None
    return plan if isinstance(plan, list) else []
