"""Fixtures of the price tests: a loopback PSE stand-in and a real Storage (SQLite files)."""

from __future__ import annotations

import pytest

from gdpo.prices import pse as pse_module
from gdpo.prices import settings
from gdpo.storage import Option, open_storage
from tests.prices.pse_fake import FakePse, closed_port_url


@pytest.fixture
def pse():
    """A started FakePse on 127.0.0.1."""
    server = FakePse().start()
    yield server
    server.stop()


@pytest.fixture
def storage_config(tmp_path):
    """A ``data_storage`` mapping of a fresh, real SQLite file."""
    return {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "db" / "gdpo.db")}}


@pytest.fixture
async def storage(storage_config):
    """An open Storage."""
    async with open_storage(storage_config) as s:
        yield s


def prices_config(pse: FakePse, **prices) -> dict:
    """A whole-config mapping pointing at the local server, with fast retries."""
    section = {"pse_base_url": pse.base_url, "timeout_s": 2.0, "retries": 1, "retry_backoff_s": 0.01}
    section.update(prices)
    return {"prices": section}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Price tests talk to loopback only: no proxy, and the default PSE URL (the public API)
    is replaced by a loopback port where nothing listens, so a forgotten URL fails fast."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    guard = closed_port_url()
    monkeypatch.setitem(settings.PRICES_SCHEMA, "pse_base_url", Option("str", guard, "test guard"))
    monkeypatch.setattr(settings, "PSE_PUBLIC_API_URL", guard)
    monkeypatch.setattr(pse_module, "PSE_PUBLIC_API_URL", guard)
