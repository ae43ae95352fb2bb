"""The HTML pages (Jinja2), each from storage only; charts get their data inline as JSON
data blocks (``<script type="application/json">``, never executed) read by static/app.js."""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from gdpo.prices.model import SOURCE_DAY_AHEAD, SOURCE_EXPORT
from gdpo.storage.aggregate import local_midnight_utc, zone
from gdpo.storage.records import KINDS
from gdpo.web import charts, data, savings
from gdpo.web.params import ApiError, BackendDown, parse_choice, parse_date, parse_int, parse_range
from gdpo.web.security import COOKIE, read_form, session_value

HERE = Path(__file__).parent
ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
NAV = (("/", "Overview"), ("/timeseries", "Time series"), ("/decisions", "Decisions"), ("/sessions", "Sessions"),
       ("/prices", "Prices"), ("/monthly", "Monthly"), ("/savings", "Savings"), ("/system", "System"))
RANGES = {"day": (1, None), "week": (7, "15m"), "month": (31, "1h"), "year": (366, "1d")}


def local(iso: str | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO time shown in local time."""
    if not iso:
        return "-"
    t = _dt.datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    return t.astimezone(zone(tz)).strftime(fmt)


def num(v, digits: int = 2) -> str:
    """A number for a table cell ("-" for unknown)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "-"
    return f"{v:,.{digits}f}".replace(",", " ")


ENV.filters["num"] = num


def render(request: Request, template: str, status_code: int = 200, **values) -> HTMLResponse:
    """A page from its template, with the navigation and local-time helper."""
    ctx = request.app.state.ctx
    html = ENV.get_template(template).render(nav=NAV, path=request.url.path, tz=ctx.tz,
                                             local=lambda iso, fmt="%Y-%m-%d %H:%M": local(iso, ctx.tz, fmt),
                                             auth=request.app.state.guard.token is not None, **values)
    return HTMLResponse(html, status_code=status_code)


def page(template: str):
    """Wrap ``fn(request, ctx) -> values`` as a page; bad parameters and down backends become
    an error page (400 / 503) naming them."""
    def wrap(fn):
        async def handler(request: Request) -> Response:
            ctx = request.app.state.ctx
            try:
                values = await fn(request, ctx)
            except ApiError as exc:
                return render(request, "error.html", 400, title="Bad parameter", message=str(exc))
            except BackendDown as exc:
                return render(request, "error.html", 503, title="Database unavailable", message=str(exc))
            return render(request, template, **values)
        handler.__name__, handler.__doc__ = fn.__name__, fn.__doc__
        return handler
    return wrap


@page("overview.html")
async def overview(request, ctx) -> dict:
    """SOC, powers, price and zone now; the current decision; today's and tomorrow's prices."""
    now = ctx.now()
    status = await data.status(ctx.storage, ctx.tz, ctx.tariff, now)
    today = ctx.today()
    rows = (await data.prices_for_day(ctx.storage, today, ctx.tz, ctx.tariff)
            + await data.prices_for_day(ctx.storage, today + _dt.timedelta(days=1), ctx.tz, ctx.tariff))
    start = local_midnight_utc(today, ctx.tz)
    marks = await data.decisions(ctx.storage, start, start + _dt.timedelta(days=2))
    planned_by = data.plan_decision(status["decision"], marks)
    plan = data.latest_plan(planned_by)
    chart_list = []
    if rows:
        chart_list.append(charts.price_chart(rows, "Prices today and tomorrow", marks, plan))
    if plan:
        xs = [charts.epoch(p["period_start"]) for p in plan]
        chart_list.append(charts.chart("Plan: expected SOC", xs, [("soc_pct", [p.get("soc_pct") for p in plan])],
                                       unit="%"))
    return {"title": "Overview", "status": status, "charts": chart_list, "plan": plan, "planned_by": planned_by,
            "plan_is_current": planned_by is not None and planned_by is status["decision"],
            "tomorrow_known": any(r["period_start"] >= (start + _dt.timedelta(days=1)).isoformat() for r in rows)}


@page("timeseries.html")
async def timeseries(request, ctx) -> dict:
    """energy_data over a day, week, month or year: raw samples or buckets (rollups answer
    hourly and daily buckets of older data)."""
    q = request.query_params
    span = parse_choice(q.get("range"), "range", RANGES) or "day"
    days, every = RANGES[span]
    if q.get("raw") == "1":
        if days > 31:
            raise ApiError("raw", "raw samples are shown for at most a month; use the year's daily buckets")
        every = None
    last_day = parse_date(q.get("date"), "date", ctx.today())
    end = local_midnight_utc(last_day + _dt.timedelta(days=1), ctx.tz)
    start = local_midnight_utc(last_day - _dt.timedelta(days=days - 1), ctx.tz)
    fields = data.DEFAULT_ENERGY_FIELDS
    items = await data.energy(ctx.storage, start, end, every, fields, ctx.tz)
    chart_list = charts.energy_chart(items, fields, "ts" if every is None else "bucket")
    return {"title": "Time series", "span": span, "every": every or "raw", "date": last_day, "ranges": RANGES,
            "charts": chart_list, "count": len(items), "raw": every is None}


@page("decisions.html")
async def decisions(request, ctx) -> dict:
    """Decisions with their reasons, filterable by range, action and type."""
    q = request.query_params
    start, end = parse_range(q, ctx.tz, 1, ctx.now())
    items = await data.decisions(ctx.storage, start, end, action=q.get("action") or None,
                                 decision_type=q.get("decision_type") or None, limit=2000)
    return {"title": "Decisions", "items": items, "start": start, "end": end, "q": dict(q)}


@page("sessions.html")
async def sessions(request, ctx) -> dict:
    """Charging and selling sessions: energy, cost or revenue, average price."""
    start, end = parse_range(request.query_params, ctx.tz, 30, ctx.now())
    return {"title": "Sessions", "charging": await data.sessions(ctx.storage, "charging_sessions", start, end),
            "selling": await data.sessions(ctx.storage, "battery_selling_sessions", start, end),
            "start": start, "end": end}


@page("prices.html")
async def prices(request, ctx) -> dict:
    """One local day's prices: market, final, export."""
    day = parse_date(request.query_params.get("date"), "date", ctx.today())
    rows = await data.prices_for_day(ctx.storage, day, ctx.tz, ctx.tariff)
    chart_list = [charts.price_chart(rows, f"Prices {day}")] if rows else []
    table = {}
    for r in rows:
        slot = table.setdefault(r["period_start"], {"period_start": r["period_start"]})
        if r["source"] == SOURCE_EXPORT:
            slot["export"] = r["price_pln_kwh"]
        elif r["source"] == SOURCE_DAY_AHEAD or "market" not in slot:  # fetched prices before migrated ones
            slot.update(market=r["price_pln_kwh"], final=r.get("final_pln_kwh"), zone=r.get("tariff_zone"))
    return {"title": "Prices", "day": day, "charts": chart_list, "rows": list(table.values()),
            "prev": day - _dt.timedelta(days=1), "next": day + _dt.timedelta(days=1)}


@page("monthly.html")
async def monthly(request, ctx) -> dict:
    """Monthly summary of a year from daily_stats, with the same month a year before."""
    year = parse_int(request.query_params.get("year"), "year", ctx.today().year, 1970, 9999)
    items = await data.monthly(ctx.storage, year, ctx.tz)
    xs = [charts.epoch(local_midnight_utc(_dt.date(year, int(i["month"][5:]), 1), ctx.tz)) for i in items]
    chart_list = [charts.chart(f"Energy per month {year}", xs, [
        ("consumption kWh", [i["total_consumption_kwh"] for i in items]),
        ("PV kWh", [i["total_pv_kwh"] for i in items]),
        ("import kWh", [i["total_grid_import_kwh"] for i in items]),
        ("import kWh a year before", [(i["previous_year"] or {}).get("total_grid_import_kwh") for i in items])],
        unit="kWh", points=True)] if items else []
    return {"title": "Monthly summary", "year": year, "items": items, "charts": chart_list}


@page("savings.html")
async def savings_page(request, ctx) -> dict:
    """gdpo backtest over the chosen days (default the last 7 stored): table and chart. The
    replay runs in the background: until its result is ready the page says so and reloads."""
    q = request.query_params
    default = await savings.default_range(ctx)
    if default is None and not q.get("from"):
        return {"title": "Savings", "result": None, "message": "No readings stored yet.", "charts": []}
    first = parse_date(q.get("from"), "from", default[0] if default else ctx.today())
    last = parse_date(q.get("to"), "to", default[1] if default else first)
    if last < first:
        raise ApiError("to", "must not be before from")
    if (last - first).days > 62:
        raise ApiError("to", "at most 63 days at once")
    simulated = q.get("simulated") == "1"
    chosen = [s for s in (q.get("strategies") or ",".join(savings.DEFAULT_STRATEGIES)).split(",") if s]
    for s in chosen:
        parse_choice(s, "strategies", savings.ALL_STRATEGIES)
    outcome = await savings.lookup(ctx, first, last, chosen, include_simulated=simulated)
    values = {"title": "Savings", "first": first, "last": last, "strategies": ",".join(chosen),
              "all": savings.ALL_STRATEGIES, "simulated": simulated, "state": outcome.state,
              "as_of": outcome.as_of, "charts": [], "result": None}
    if outcome.state == "computing":
        return {**values, "refresh_s": 2,
                "message": f"Computing the backtest of {first} .. {last}; this page reloads itself until it is ready."}
    if outcome.state == "failed":
        return {**values, "message": outcome.error}
    result = outcome.result
    names = list(result["strategies"])
    chart_list = [charts.chart("Net cost per strategy, PLN", list(range(len(names))),
                               [("net_cost_pln", [result["strategies"][n]["net_cost_pln"] for n in names])],
                               unit="PLN", points=True)]
    chart_list[0]["labels"] = names
    base = result["strategies"].get("none", {}).get("net_cost_pln")
    return {**values, "result": result, "charts": chart_list, "base": base,
            "refresh_s": 10 if outcome.state == "stale" else None}


@page("system.html")
async def system(request, ctx) -> dict:
    """Health, routing, spools, the last write per kind, versions, the config (secrets masked)."""
    import starlette
    import uvicorn

    from gdpo import __version__
    from gdpo.config import mask_secrets
    from gdpo.storage.health import health_report
    from gdpo.storage.plugins import list_backends

    try:
        report = await health_report(ctx.storage)
    except Exception as exc:
        report = {"ok": False, "problems": [f"{type(exc).__name__}: {exc}"], "backends": [], "spools": {}}
    last = {}
    for kind in KINDS:
        try:
            rec = await ctx.storage.latest(kind)
        except Exception as exc:
            last[kind] = f"unavailable: {type(exc).__name__}"
            continue
        last[kind] = None if rec is None else data.jsonable(rec.time)
    versions = {"gdpo": __version__, "python": platform.python_version(), "starlette": starlette.__version__,
                "uvicorn": uvicorn.__version__,
                "uPlot": (HERE / "static/vendor/uplot/VERSION").read_text().split()[1]}
    for info in list_backends():
        versions[f"backend {info.name}"] = info.version or ("available" if info.available else "unavailable")
    cfg = [(k, mask_secrets(str(v)) if isinstance(v, str) else v, src) for k, v, src in ctx.config.items()]
    problems = [mask_secrets(p) for p in report["problems"]]
    return {"title": "System", "report": report, "problems": problems, "routes": ctx.storage.routes, "last": last,
            "versions": versions, "config": cfg, "in_coordinator": ctx.coordinator is not None}


async def login(request: Request) -> Response:
    """The login form (GET) and its check (POST): a right token sets the session cookie."""
    guard = request.app.state.guard
    if guard.token is None:
        return RedirectResponse("/", status_code=303)
    if request.method == "POST":
        form = await read_form(request)
        if guard.matches(form.get("token", "")):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, session_value(guard.token), httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
            return response
        return render(request, "login.html", 401, title="Log in", failed=True)
    return render(request, "login.html", title="Log in", failed=False)


async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def routes() -> list[Route]:
    """The page routes."""
    return [Route("/", overview), Route("/timeseries", timeseries), Route("/decisions", decisions),
            Route("/sessions", sessions), Route("/prices", prices), Route("/monthly", monthly),
            Route("/savings", savings_page), Route("/system", system),
            Route("/login", login, methods=["GET", "POST"]), Route("/logout", logout, methods=["POST", "GET"])]
