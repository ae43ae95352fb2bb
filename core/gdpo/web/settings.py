"""Config section ``web``: where the dashboard listens and the token that guards it."""

from __future__ import annotations

from gdpo.storage.options import Option

WEB_SCHEMA = {
    "enabled": Option("bool", False, "Serve the dashboard from the coordinator process (as `gdpo run --web`)"),
    "host": Option("str", "127.0.0.1", "Address to listen on; any non-loopback address needs web.token or "
                   "web.token_file"),
    "port": Option("int", 8080, "TCP port of the dashboard", min=1, max=65535),
    "token": Option("str", None, "Access token (bearer header or the login form); required off loopback",
                    secret=True, nullable=True),
    "token_file": Option("path", None, "File holding the access token (first line), instead of web.token",
                         nullable=True),
}

SECTIONS = {"web": WEB_SCHEMA}


def check_config(data: dict) -> None:
    """web.token and web.token_file are alternatives."""
    from gdpo.config import ConfigError

    web = data.get("web") or {}
    if web.get("token") and web.get("token_file"):
        raise ConfigError("web.token and web.token_file are both set; use one of them")
