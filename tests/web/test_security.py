"""Access control and hardening: loopback by default, a token anywhere else (refused to start
without one, exit 2 naming web.token), bearer header or login cookie, constant-time checks,
a Content-Security-Policy that allows nothing outside the host, no control endpoints, and
/metrics at exactly /metrics."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gdpo.config import ConfigError, load_config
from gdpo.web import security
from gdpo.web.serve import listen_settings

from tests.web.conftest import close_client, open_client, write_config

TOKEN = "s3cr3t-Token-For-Tests"
GDPO = [sys.executable, "-m", "gdpo.cli"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def with_web(tmp_path: Path, base: Path, **web) -> Path:
    """A copy of config ``base`` with section ``web``."""
    data = yaml.safe_load(base.read_text())
    data["web"] = web
    path = tmp_path / f"web-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_gdpo(*args, timeout=60) -> subprocess.CompletedProcess:
    """``gdpo ARGS`` in a subprocess (no config from the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GDPO_", "DATABASE_"))}
    return subprocess.run(GDPO + list(args), capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
async def guarded(simulated_db, tmp_path):
    """A client over the simulated run with web.token set."""
    path, summary = simulated_db
    client = await open_client(with_web(tmp_path, path, token=TOKEN), now=lambda: summary.end)
    yield client
    await close_client(client)


# --------------------------------------------------------------------------- where it listens


def test_loopback_is_the_default(tmp_path):
    cfg = load_config(write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "x.db")}}), env={})
    host, port, token = listen_settings(cfg)
    assert (host, port, token) == ("127.0.0.1", 8080, None)
    assert security.is_loopback(host) and security.is_loopback("::1") and security.is_loopback("localhost")
    assert not security.is_loopback("0.0.0.0") and not security.is_loopback("192.168.1.10")


def test_gdpo_web_on_an_open_address_without_a_token_exits_2_naming_web_token(tmp_path):
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "x.db")}})
    done = run_gdpo("web", "--config", str(cfg), "--host", "0.0.0.0", "--port", "1")
    assert done.returncode == 2, done.stderr
    assert "web.token" in done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before opening anything


def test_gdpo_run_web_on_an_open_address_without_a_token_exits_2(tmp_path):
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "x.db")}},
                       web={"host": "0.0.0.0"})
    done = run_gdpo("run", "--simulate", "--web", "--config", str(cfg), "--speed", "60", "--duration", "1m")
    assert done.returncode == 2 and "web.token" in done.stderr, done.stderr


def test_an_open_address_with_a_token_is_accepted(tmp_path):
    cfg = load_config(write_config(tmp_path, {"backend": "sqlite"}, web={"host": "0.0.0.0", "token": TOKEN}), env={})
    assert listen_settings(cfg) == ("0.0.0.0", 8080, TOKEN)


@pytest.mark.parametrize("web, named", [({"token": TOKEN, "token_file": "/x"}, "web.token_file"),
                                        ({"tokn": TOKEN}, "web.tokn"), ({"port": 0}, "web.port"),
                                        ({"host": 8080}, "web.host")])
def test_the_web_section_is_strict(tmp_path, web, named):
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "x.db")}}, web=web)
    done = run_gdpo("web", "--config", str(cfg))
    assert done.returncode == 2 and named in done.stderr, done.stderr
    assert TOKEN not in done.stderr


def test_token_file_must_be_private(tmp_path):
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    secret.chmod(0o644)
    cfg = load_config(write_config(tmp_path, {"backend": "sqlite"}, web={"host": "0.0.0.0", "token_file": str(secret)}),
                      env={})
    with pytest.raises(ConfigError, match="web.token_file .* readable by others .*chmod 600"):
        listen_settings(cfg)
    secret.chmod(0o640)
    if os.getuid() != 0:
        with pytest.raises(ConfigError, match="readable by its group"):
            listen_settings(cfg)
    secret.chmod(0o600)
    assert listen_settings(cfg)[2] == TOKEN
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="web.token_file .* is empty"):
        listen_settings(cfg)


def test_a_world_readable_token_file_stops_gdpo_web_with_exit_2(tmp_path):
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    secret.chmod(0o644)
    cfg = write_config(tmp_path, {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "x.db")}},
                       web={"token_file": str(secret)})
    done = run_gdpo("web", "--config", str(cfg), "--port", "1")
    assert done.returncode == 2 and "web.token_file" in done.stderr, done.stderr
    assert TOKEN not in done.stderr + done.stdout


# --------------------------------------------------------------------------- the token


async def test_without_the_token_nothing_is_served(guarded):
    for url in ("/api/v1/status", "/api/v1/energy", "/health", "/metrics"):
        r = await guarded.get(url)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", url
        assert "items" not in r.text
    page = await guarded.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert (await guarded.get("/login")).status_code == 200  # the form itself is open
    assert (await guarded.get("/static/app.css")).status_code == 200


async def test_a_bearer_header_with_the_token_is_served_and_a_wrong_one_refused(guarded):
    assert (await guarded.get("/api/v1/status", headers=AUTH)).status_code == 200
    assert (await guarded.get("/", headers=AUTH)).status_code == 200
    for wrong in (TOKEN[:-1], TOKEN + "x", "", TOKEN.upper()):
        r = await guarded.get("/api/v1/status", headers={"Authorization": f"Bearer {wrong}"})
        assert r.status_code == 401, wrong
    assert (await guarded.get("/api/v1/status", headers={"Authorization": f"Basic {TOKEN}"})).status_code == 401


async def test_the_login_form_sets_an_httponly_strict_cookie_that_is_not_the_token(guarded):
    http = guarded.http
    wrong = await http.post("/login", data={"token": "nope"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    assert security.COOKIE not in http.cookies
    ok = await http.post("/login", data={"token": TOKEN})
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith(f"{security.COOKIE}=")
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert TOKEN not in cookie
    assert (await http.get("/api/v1/status")).status_code == 200  # the client now sends the cookie
    assert (await http.get("/")).status_code == 200
    out = await http.get("/logout")
    assert out.status_code == 303 and f'{security.COOKIE}=""' in out.headers["set-cookie"]
    assert (await http.get("/api/v1/status")).status_code == 401
    http.cookies.set(security.COOKIE, "0" * 64)  # a made-up session
    assert (await http.get("/api/v1/status")).status_code == 401


async def test_every_token_check_is_constant_time(guarded, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    await guarded.get("/api/v1/status", headers={"Authorization": "Bearer wrong"})
    assert calls, "the bearer token is compared with hmac.compare_digest"
    calls.clear()
    guarded.http.cookies.set(security.COOKIE, "f" * 64)
    await guarded.get("/api/v1/status")
    guarded.http.cookies.clear()
    assert calls, "the session cookie is compared with hmac.compare_digest"
    calls.clear()
    await guarded.http.post("/login", data={"token": "wrong"})
    assert calls, "the login form's token is compared with hmac.compare_digest"


# --------------------------------------------------------------------------- headers, methods


async def test_every_answer_carries_a_csp_that_forbids_outside_sources(guarded):
    answers = [await guarded.get(u, headers=AUTH) for u in ("/", "/system", "/api/v1/status", "/health", "/metrics",
                                                             "/static/app.js", "/nope")]
    answers += [await guarded.get("/api/v1/status"), await guarded.get("/"), await guarded.get("/login")]
    for r in answers:
        csp = r.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'self'"
        for name in ("script-src", "style-src", "connect-src", "img-src", "font-src"):
            sources = directives[name].split()
            assert set(sources) <= {"'self'", "data:"}, (name, sources)
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp and "*" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"


def test_no_route_changes_state_except_the_login(guarded):
    app = guarded.app.state  # the inner Starlette app's state; its routes:
    from gdpo.web import api, pages

    for route in api.routes() + pages.routes():
        methods = set(route.methods or ()) - {"HEAD"}
        if route.path in ("/login", "/logout"):  # the session cookie only: nothing stored changes
            continue
        assert methods == {"GET"}, (route.path, methods)
    assert app.ctx is not None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_writing_methods_are_refused_everywhere(guarded, method):
    for url in ("/api/v1/status", "/api/v1/energy", "/api/v1/decisions", "/api/v1/sessions", "/api/v1/prices",
                "/api/v1/daily", "/api/v1/summary/monthly", "/health", "/metrics", "/", "/system"):
        r = await guarded.http.request(method, url, headers=AUTH)
        assert r.status_code == 405, (method, url, r.status_code)


# --------------------------------------------------------------------------- /metrics


async def test_metrics_answers_at_exactly_metrics_with_gdpo_names(sim_client):
    r = await sim_client.get("/metrics")
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    assert r.headers["content-type"].startswith("text/plain")
    names = {line.split("{")[0].split(" ")[0] for line in r.text.splitlines() if line and not line.startswith("#")}
    assert names and all(n.startswith("gdpo_") for n in names), sorted(n for n in names if not n.startswith("gdpo_"))


async def test_metrics_is_behind_the_token_when_one_is_set(guarded):
    assert (await guarded.get("/metrics")).status_code == 401
    r = await guarded.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and "gdpo_" in r.text
