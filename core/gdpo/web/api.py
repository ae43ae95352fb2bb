"""The JSON API under ``/api/v1`` (and ``/health``); read-only, from storage only.

Lists answer ``{"items": [...]}``. A bad parameter is a 400 ``{"error", "parameter"}``; a
backend that does not answer is a 503 ``{"error", "backend"}``.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gdpo.web import data
from gdpo.web.params import (ApiError, BackendDown, parse_choice, parse_date, parse_every_param, parse_fields,
                             parse_int, parse_range)


class JSON(JSONResponse):
    """JSON with ISO 8601 times."""

    def render(self, content: Any) -> bytes:
        return json.dumps(data.jsonable(content), ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                          default=str).encode("utf-8")


def error_response(exc: Exception) -> Response:
    """400 for a bad parameter, 503 for a backend that does not answer."""
    if isinstance(exc, ApiError):
        return JSON({"error": str(exc), "parameter": exc.parameter}, status_code=400)
    if isinstance(exc, BackendDown):
        return JSON({"error": str(exc), "backend": exc.backend}, status_code=503)
    raise exc


def endpoint(fn):
    """Wrap ``fn(ctx, query) -> content`` as a Starlette endpoint with the error mapping."""
    async def handler(request: Request) -> Response:
        ctx = request.app.state.ctx
        try:
            return JSON(await fn(ctx, request.query_params))
        except (ApiError, BackendDown) as exc:
            return error_response(exc)
    handler.__name__ = fn.__name__
    handler.__doc__ = fn.__doc__
    return handler


async def status(ctx, q) -> dict:
    """The current reading, system state, decision and price."""
    return await data.status(ctx.storage, ctx.tz, ctx.tariff, ctx.now())


async def energy(ctx, q) -> dict:
    """energy_data: raw (no ``every``) or bucketed averages of ``fields``; default today so far."""
    start, end = parse_range(q, ctx.tz, 1, ctx.now())
    every = parse_every_param(q.get("every"))
    fields = parse_fields(q.get("fields"), data.ENERGY_FIELDS, data.DEFAULT_ENERGY_FIELDS)
    if every is None and end - start > _dt.timedelta(days=31):
        raise ApiError("every", "raw records are served for at most 31 days; give every= (e.g. 1h or 1d)")
    return {"from": start, "to": end, "every": every or "raw", "fields": fields,
            "items": await data.energy(ctx.storage, start, end, every, fields, ctx.tz)}


async def decisions(ctx, q) -> dict:
    """Coordinator decisions, newest first; default the last day."""
    start, end = parse_range(q, ctx.tz, 1, ctx.now())
    limit = parse_int(q.get("limit"), "limit", 5000, 1, 100000)
    return {"from": start, "to": end, "items": await data.decisions(
        ctx.storage, start, end, action=q.get("action") or None, decision_type=q.get("decision_type") or None,
        limit=limit)}


def _sessions(kind: str):
    async def handler(ctx, q) -> dict:
        start, end = parse_range(q, ctx.tz, 30, ctx.now())
        return {"from": start, "to": end, "items": await data.sessions(ctx.storage, kind, start, end)}
    handler.__doc__ = f"{kind} that started in the range (default the last 30 days), newest first."
    handler.__name__ = kind
    return handler


async def prices(ctx, q) -> dict:
    """Stored prices of a local day (default today): market, final (day-ahead rows), export."""
    day = parse_date(q.get("date"), "date", ctx.today())
    source = parse_choice(q.get("source"), "source", data.PRICE_SOURCES)
    return {"date": day, "items": await data.prices_for_day(ctx.storage, day, ctx.tz, ctx.tariff, source)}


async def daily(ctx, q) -> dict:
    """daily_stats of the range (default the last 31 days)."""
    start, end = parse_range(q, ctx.tz, 31, ctx.now())
    from gdpo.storage.aggregate import zone

    first = start.astimezone(zone(ctx.tz)).date()
    last = end.astimezone(zone(ctx.tz))
    stop = last.date() + _dt.timedelta(days=1 if last.time() != _dt.time(0) else 0)
    return {"from": first, "to": stop, "items": await data.daily(ctx.storage, first, stop)}


async def monthly(ctx, q) -> dict:
    """Per month of ``year`` (default this year): sums from daily_stats and last year's."""
    year = parse_int(q.get("year"), "year", ctx.today().year, 1970, 9999)
    return {"year": year, "items": await data.monthly(ctx.storage, year, ctx.tz)}


async def health(request: Request) -> Response:
    """Storage health (``gdpo health``): 200 when healthy, 503 naming what is not."""
    from gdpo.storage.health import health_report

    ctx = request.app.state.ctx
    try:
        report = await health_report(ctx.storage)
    except Exception as exc:
        return JSON({"ok": False, "problems": [f"{type(exc).__name__}: {exc}"]}, status_code=503)
    report = {"ok": report["ok"], "problems": report["problems"], "backends": report["backends"],
              "spools": report["spools"]}
    return JSON(report, status_code=200 if report["ok"] else 503)


def routes() -> list[Route]:
    """The API routes."""
    api = [("status", status), ("energy", energy), ("decisions", decisions),
           ("sessions", _sessions("charging_sessions")), ("selling", _sessions("battery_selling_sessions")),
           ("prices", prices), ("daily", daily), ("summary/monthly", monthly)]
    return [Route(f"/api/v1/{name}", endpoint(fn), methods=["GET"]) for name, fn in api] + \
        [Route("/health", health, methods=["GET"])]
