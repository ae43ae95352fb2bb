"""Serving the app with uvicorn: as its own process (``gdpo web``) or as a task of the
coordinator's event loop (``gdpo run --web``)."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from gdpo.web.security import require_token_off_loopback, resolve_token

log = logging.getLogger(__name__)


def listen_settings(config, host: str | None = None, port: int | None = None) -> tuple[str, int, str | None]:
    """(host, port, token) from ``web`` and the overrides; refuses an open address without a
    token (``ConfigError`` naming ``web.token``)."""
    web = config.section("web")
    host = host or web["host"]
    port = port or web["port"]
    token = resolve_token(web)
    require_token_off_loopback(host, token)
    return host, port, token


def make_server(app, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for ``app`` that installs no signal handlers (its owner stops it)."""
    cfg = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                         server_header=False, proxy_headers=False)
    server = uvicorn.Server(cfg)
    server.install_signal_handlers = lambda: None  # uvicorn < 0.29
    return server


async def serve_until(app, host: str, port: int, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or forever)."""
    server = make_server(app, host, port)
    task = asyncio.create_task(server.serve())
    try:
        if stop is None:
            await task
        else:
            await stop.wait()
    finally:
        server.should_exit = True
        await task


class WebTask:
    """The dashboard as a task of a running event loop (``gdpo run --web``)."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task):
        self.server, self.task = server, task

    @classmethod
    async def start(cls, config, storage, coordinator, *, host=None, port=None) -> "WebTask":
        """Start serving ``create_app(storage, config, coordinator=...)`` in this loop."""
        from gdpo.web.app import create_app

        host, port, token = listen_settings(config, host, port)
        server = make_server(create_app(storage, config, coordinator=coordinator, token=token), host, port)
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():
            try:
                task.result()
            except SystemExit:  # uvicorn exits when it cannot bind (it has logged why)
                pass
            raise OSError(f"the dashboard could not listen on {host}:{port}")
        return cls(server, task)

    @property
    def url(self) -> str:
        """Where it listens."""
        sock = self.server.servers[0].sockets[0].getsockname() if self.server.servers else ("?", "?")
        return f"http://{sock[0]}:{sock[1]}/"

    async def stop(self) -> None:
        """Stop serving and wait for the task to end."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(self.task, 10)
        except (asyncio.TimeoutError, asyncio.CancelledError, SystemExit):
            self.task.cancel()
