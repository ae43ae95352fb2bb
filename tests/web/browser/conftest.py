"""Fixtures of the browser tests: the dashboard served by uvicorn on 127.0.0.1 (a free port)
over a real SQLite database filled by a simulated evening and night, and Debian's headless
chromium driven by selenium through chromium-driver.

Without chromium the tests skip with the reason printed; under ``CI=true`` they fail."""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from gdpo.commands.run import RunOptions, run_coordinator
from gdpo.config import load_config
from gdpo.storage import open_storage
from gdpo.storage.aggregate import zone
from gdpo.web.app import create_app
from gdpo.web.serve import make_server
from tests.web.conftest import NO_PSE

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
EVENING = _dt.datetime(2026, 3, 10, 17, 45)  # local: selling in the evening, charging at night
BROWSER_TZ = "America/New_York"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-dev-shm-usage", "--window-size=1280,1000")


def chromium_paths() -> tuple[str | None, str | None]:
    """(chromium binary, chromedriver) found on PATH or in Debian's places."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    return browser, driver


def need_chromium() -> tuple[str, str]:
    """The two paths, or a skip naming what is missing (a failure under CI=true)."""
    browser, driver = chromium_paths()
    missing = [name for name, p in (("chromium", browser), ("chromium-driver", driver)) if not p]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        reason = f"browser tests need {', '.join(missing)} (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        print(f"\nSKIP: {reason}")
        pytest.skip(reason)
    return browser, driver


async def simulate_evening(cfg_path: Path, hours: float = 7.25):
    """A simulated evening and night (selling, then charging); the run summary."""
    cfg = load_config(cfg_path, env={})
    t0 = EVENING.replace(tzinfo=zone("Europe/Warsaw")).astimezone(_dt.timezone.utc)
    return await run_coordinator(cfg, RunOptions(simulate=True, speed=900, duration=_dt.timedelta(hours=hours),
                                                 start=t0, quiet=True), echo=lambda line: None)


class LiveServer:
    """``create_app`` over an open Storage, served by uvicorn in a thread of its own."""

    def __init__(self, cfg_path: Path, now, token: str | None = None):
        self.cfg_path, self.now, self.token = cfg_path, now, token
        self.server = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="gdpo-web-test", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            self.error = exc
        finally:
            self.ready.set()

    async def _serve(self) -> None:
        cfg = load_config(self.cfg_path, env={})
        async with open_storage(cfg, background=False) as storage:
            self.server = make_server(create_app(storage, cfg, now=self.now, token=self.token), "127.0.0.1", 0)
            task = asyncio.create_task(self.server.serve())
            while not self.server.started and not task.done():
                await asyncio.sleep(0.02)
            self.ready.set()
            await task

    def start(self) -> str:
        """Start serving; the base URL."""
        self.thread.start()
        self.ready.wait(30)
        if self.error or not self.server or not self.server.started:
            raise RuntimeError(f"the dashboard did not start: {self.error!r}")
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self.server:
            self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="session")
def evening_db(tmp_path_factory):
    """(config path, run summary) of a SQLite database filled by a simulated evening and night."""
    tmp = tmp_path_factory.mktemp("web-browser")
    path = tmp / "gdpo.yaml"
    path.write_text(yaml.safe_dump({
        "data_storage": {"backend": "sqlite", "sqlite": {"path": str(tmp / "data" / "gdpo.db")}},
        "prices": NO_PSE, "coordinator": {"strategy": "optimiser"},
        "selling": {"enabled": True, "min_soc_pct": 20.0, "min_price_pln_kwh": 0.8}}))
    return path, asyncio.run(simulate_evening(path))


@pytest.fixture(scope="session")
def live_url(evening_db):
    """The base URL of the dashboard over the simulated database, its clock at the run's end."""
    path, summary = evening_db
    server = LiveServer(path, lambda: summary.end)
    url = server.start()
    yield url
    server.stop()


TOKEN = "browser-test-token-7f3a"


@pytest.fixture(scope="session")
def live_url_with_token(evening_db):
    """The dashboard over the same database asking for a token (as off loopback)."""
    path, summary = evening_db
    server = LiveServer(path, lambda: summary.end, token=TOKEN)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless chromium (selenium) logging the console and the network."""
    binary, driver_path = need_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # the browser in a timezone far from the dashboard's: its charts must not use the browser's
    env = {**os.environ, "TZ": BROWSER_TZ}
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path, env=env))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the screenshots go (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
