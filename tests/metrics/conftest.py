"""Helpers of the metrics tests: scrape an app over ASGI and index its samples."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """The samples of one scrape: ``s["name", {"label": "v"}]`` is a value (KeyError if absent)."""

    def __init__(self, text: str):
        self.text = text
        self.samples = {}
        self.types = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def __getitem__(self, key):
        name, labels = key if isinstance(key, tuple) else (key, {})
        return self.samples[(name, frozenset(labels.items()))]

    def get(self, name, labels=None, default=None):
        """The value, or ``default``."""
        return self.samples.get((name, frozenset((labels or {}).items())), default)

    def labelled(self, name: str) -> dict[frozenset, float]:
        """Every sample of ``name`` by its label set."""
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


async def scrape(app) -> Scrape:
    """GET /metrics from an ASGI app; asserts a 200 in the Prometheus text format."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)
