"""The web app factory: dashboard pages, the JSON API, static files and, when the metrics
package is installed, ``/metrics``. Read-only: no route changes anything."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gdpo.web import api, pages
from gdpo.web.context import WebContext
from gdpo.web.security import Guard, SecurityMiddleware, resolve_token

STATIC = Path(__file__).parent / "static"


def _metrics_route(storage, coordinator) -> list[Route]:
    """``/metrics`` as an exact route (a Mount would answer ``/metrics`` with a redirect to
    ``/metrics/``, which Prometheus does not follow by default)."""
    try:
        from gdpo.metrics import metrics_app
    except ImportError:
        return []
    return [Route("/metrics", endpoint=metrics_app(storage, coordinator=coordinator), methods=["GET"])]


def create_app(storage, config, *, coordinator=None, now=None, token: str | None = None):
    """The ASGI app over an open Storage and a Config (``coordinator``: the running
    MasterCoordinator when served from ``gdpo run --web``). ``token`` overrides the
    configured one (``web.token`` / ``web.token_file``)."""
    if token is None:
        token = resolve_token(config.section("web"))
    guard = Guard(token)
    routes = pages.routes() + api.routes() + _metrics_route(storage, coordinator)
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC), name="static"))
    app = Starlette(routes=routes)
    app.state.ctx = WebContext.make(storage, config, coordinator, now)
    app.state.guard = guard
    outer = SecurityMiddleware(app, guard)
    outer.state = app.state  # reachable from tests and the server
    return outer
