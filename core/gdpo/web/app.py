"""The web app factory: dashboard pages, the JSON API, static files and, when the metrics
package is installed, ``/metrics``. Read-only: no route changes anything."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gdpo.web import api, pages, savings
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


class WarmOnFirstRequest:
    """Start the Savings warm-up on the first request when no lifespan started it (an app
    served without lifespan events, e.g. in process through httpx)."""

    def __init__(self, app, ctx):
        self.app, self.ctx = app, ctx

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            savings.ensure_warm(self.ctx)
        return await self.app(scope, receive, send)

    def __getattr__(self, name):
        return getattr(self.app, name)


def create_app(storage, config, *, coordinator=None, now=None, token: str | None = None):
    """The ASGI app over an open Storage and a Config (``coordinator``: the running
    MasterCoordinator when served from ``gdpo run --web``). ``token`` overrides the
    configured one (``web.token`` / ``web.token_file``)."""
    if token is None:
        token = resolve_token(config.section("web"))
    guard = Guard(token)
    routes = pages.routes() + api.routes() + _metrics_route(storage, coordinator)
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC), name="static"))
    ctx = WebContext.make(storage, config, coordinator, now)

    @asynccontextmanager
    async def lifespan(_app):
        savings.ensure_warm(ctx)  # the Savings page's default range, computed from the start
        try:
            yield
        finally:
            await savings.stop_warm(ctx)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.guard = guard
    outer = SecurityMiddleware(WarmOnFirstRequest(app, ctx), guard)
    outer.state = app.state  # reachable from tests and the server
    return outer
