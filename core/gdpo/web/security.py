"""Access control of the dashboard: loopback by default; anywhere else a token.

The token is given in ``web.token`` or ``web.token_file``. A client proves it with an
``Authorization: Bearer <token>`` header, or once through the login form, which sets an
HttpOnly cookie holding an HMAC of the token (never the token itself). Every comparison is
constant-time (:func:`hmac.compare_digest`). Every answer carries a Content-Security-Policy
that allows nothing outside this host.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs

from gdpo.storage.secrets import private_file_problem, read_private_file

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

COOKIE = "gdpo_session"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
OPEN_PATHS = ("/login", "/static/")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(web: Mapping[str, Any]) -> str | None:
    """The configured token (``web.token``, else the first line of ``web.token_file``), or None.
    Raises ``ConfigError`` naming ``web.token_file`` when it cannot be read, is empty or others
    may read it (see :func:`token_file_problem`)."""
    from gdpo.config import ConfigError

    if web.get("token"):
        return str(web["token"])
    path = web.get("token_file")
    if not path:
        return None
    return read_private_file("web.token_file", path, ConfigError).strip()


def token_file_problem(path: Path, st: os.stat_result) -> str | None:
    """Why ``web.token_file``'s permissions are refused, or None when it is private enough
    (the rule of ``data_storage.timescaledb.password_file``: :func:`gdpo.storage.secrets.private_file_problem`)."""
    return private_file_problem("web.token_file", path, st)


def require_token_off_loopback(host: str, token: str | None) -> None:
    """Refuse (``ConfigError`` naming ``web.token``) a non-loopback address without a token."""
    from gdpo.config import ConfigError

    if not token and not is_loopback(host):
        raise ConfigError(f"web.host {host} is not a loopback address: set web.token (or web.token_file) "
                          "so that the dashboard asks for it")


def session_value(token: str) -> str:
    """The cookie value that stands for ``token`` (an HMAC; the token is never sent back)."""
    return hmac.new(token.encode(), b"gdpo-web-session", hashlib.sha256).hexdigest()


class Guard:
    """Checks a request against the token (no token: every request passes)."""

    def __init__(self, token: str | None):
        self.token = token
        self._session = session_value(token) if token else None

    def allows(self, request: Request) -> bool:
        """True when the request carries the token (header) or the session cookie."""
        if self.token is None:
            return True
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), self.token.encode()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session.encode())

    def matches(self, candidate: str) -> bool:
        """Constant-time check of a token typed into the login form."""
        return self.token is not None and hmac.compare_digest(candidate.encode(), self.token.encode())


class SecurityMiddleware:
    """ASGI middleware: security headers on every answer; the token asked for where set."""

    def __init__(self, app, guard: Guard):
        self.app, self.guard = app, guard

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for k, v in HEADERS.items():
                    if k.lower().encode() not in present:
                        headers.append((k.lower().encode(), v.encode()))
                message["headers"] = headers
            await send(message)

        path = scope.get("path", "")
        if not path.startswith(OPEN_PATHS) and not self.guard.allows(Request(scope)):
            response = _refusal(path)
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)


def _refusal(path: str) -> Response:
    if path.startswith(("/api/", "/health", "/metrics")):
        return JSONResponse({"error": "unauthorized: send Authorization: Bearer <web.token>"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    return RedirectResponse("/login", status_code=303)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (small; the login form) as a dict of first values."""
    body = (await request.body())[:4096].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}
