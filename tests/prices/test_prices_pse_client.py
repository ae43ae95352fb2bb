"""The PSE client against a loopback server: OData filter, nextLink pages, HTTP trouble."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest

from gdpo.prices import PseClient, PseResponseError, PseUnreachableError, parse_day
from tests.prices.pse_fake import quarter_rows

D = dt.date(2025, 9, 6)


def client(base_url: str, **kw) -> PseClient:
    kw.setdefault("retries", 1)
    kw.setdefault("retry_backoff_s", 0.01)
    kw.setdefault("timeout_s", 2.0)
    return PseClient(base_url, **kw)


async def test_uses_the_odata_filter_and_follows_next_link(pse):
    pse.page_size = 30
    pse.days[("csdac-pln", "2025-09-06")] = quarter_rows(D)
    async with client(pse.base_url) as c:
        rows = await c.fetch_rows("csdac-pln", D)
    assert len(rows) == 96 and len(pse.requests) == 4
    assert "%24filter=business_date" in pse.requests[0] or "$filter=business_date" in pse.requests[0]
    assert "$skip=90" in pse.requests[-1].replace("%24", "$")
    assert len(parse_day(rows, D, "csdac-pln").quarters) == 96


async def test_reports_have_their_own_path(pse):
    pse.days[("rce-pln", "2025-09-06")] = quarter_rows(D, field="rce_pln")
    async with client(pse.base_url) as c:
        assert len(await c.fetch_rows("rce-pln", D)) == 96
        assert await c.fetch_rows("csdac-pln", D) == []
    assert pse.requests[0].startswith("/api/rce-pln?")


@pytest.mark.parametrize("status", [400, 404, 500, 503])
async def test_http_errors(pse, status):
    pse.days[("csdac-pln", "2025-09-06")] = lambda: (status, "application/json", b'{"error": "nope"}')
    async with client(pse.base_url, retries=2) as c:
        with pytest.raises(PseResponseError, match=f"HTTP {status}"):
            await c.fetch_rows("csdac-pln", D)
    assert len(pse.requests) == (3 if status >= 500 else 1)  # 5xx retried, 4xx not


async def test_retry_succeeds_after_a_5xx(pse):
    answers = [(502, "text/plain", b"bad gateway"),
               (200, "application/json", json.dumps({"value": quarter_rows(D)}).encode())]
    pse.days[("csdac-pln", "2025-09-06")] = lambda: answers.pop(0)
    async with client(pse.base_url, retries=2) as c:
        assert len(await c.fetch_rows("csdac-pln", D)) == 96


async def test_html_error_page(pse):
    page = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Sorry</body></html>"
    pse.days[("csdac-pln", "2025-09-06")] = lambda: (200, "text/html", page)
    async with client(pse.base_url) as c:
        with pytest.raises(PseResponseError, match="HTML page instead of JSON.*Maintenance"):
            await c.fetch_rows("csdac-pln", D)


async def test_html_page_labelled_as_json(pse):
    pse.days[("csdac-pln", "2025-09-06")] = lambda: (200, "application/json", b"<html>oops</html>")
    async with client(pse.base_url) as c:
        with pytest.raises(PseResponseError, match="HTML page"):
            await c.fetch_rows("csdac-pln", D)


async def test_truncated_json(pse):
    body = json.dumps({"value": quarter_rows(D)}).encode()[:5000]
    pse.days[("csdac-pln", "2025-09-06")] = lambda: (200, "application/json", body)
    async with client(pse.base_url) as c:
        with pytest.raises(PseResponseError, match=r"invalid or truncated JSON \(5000 bytes\)"):
            await c.fetch_rows("csdac-pln", D)


@pytest.mark.parametrize("body,message", [
    (b'{"items": []}', "no 'value' list"),
    (b'[1, 2]', "expected a JSON object"),
    (b'{"value": [], "nextLink": 5}', "nextLink is not a URL"),
    (b'{"value": [], "nextLink": "http://example.invalid/api/csdac-pln"}', "nextLink leads to another host"),
])
async def test_bad_json_shapes(pse, body, message):
    pse.days[("csdac-pln", "2025-09-06")] = lambda: (200, "application/json", body)
    async with client(pse.base_url) as c:
        with pytest.raises(PseResponseError, match=message):
            await c.fetch_rows("csdac-pln", D)


async def test_next_link_loop_is_stopped(pse):
    body = json.dumps({"value": [], "nextLink": f"{pse.base_url}/csdac-pln?$filter=business_date eq '2025-09-06'"})
    pse.days[("csdac-pln", "2025-09-06")] = lambda: (200, "application/json", body.encode())
    async with client(pse.base_url) as c:
        with pytest.raises(PseResponseError, match="repeats a page"):
            await c.fetch_rows("csdac-pln", D)


async def test_unreachable_after_retries():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with client(f"http://127.0.0.1:{port}/api", retries=2) as c:
        with pytest.raises(PseUnreachableError, match=f"127.0.0.1:{port}.*cannot connect"):
            await c.fetch_rows("csdac-pln", D)


async def test_timeout_is_unreachable():
    with socket.socket() as s:  # accepts the connection, never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        async with client(f"http://127.0.0.1:{port}/api", retries=0, timeout_s=0.3) as c:
            with pytest.raises(PseUnreachableError, match="no answer within the timeout"):
                await c.fetch_rows("csdac-pln", D)


def test_default_url_is_guarded_in_tests():
    from gdpo.prices.settings import price_sections

    assert price_sections()[0]["pse_base_url"].startswith("http://127.0.0.1:")
    assert PseClient().base_url.startswith("http://127.0.0.1:")


async def test_retries_wait_the_backoff_doubling_and_say_so(pse, caplog):
    answers = [(503, "text/plain", b"busy"), (502, "text/plain", b"bad gateway"),
               (200, "application/json", json.dumps({"value": quarter_rows(D)}).encode())]
    pse.days[("csdac-pln", "2025-09-06")] = lambda: answers.pop(0)
    with caplog.at_level("WARNING", logger="gdpo.prices.pse"):
        async with client(pse.base_url, retries=3, retry_backoff_s=0.01) as c:
            assert len(await c.fetch_rows("csdac-pln", D)) == 96
    retries = [r for r in caplog.records if r.getMessage().startswith("PSE request failed")]
    assert [(r.args[1], r.args[2], r.args[3]) for r in retries] == [(1, 3, 0.01), (2, 3, 0.02)]
    assert "HTTP 503" in retries[0].getMessage() and "retry 1 of 3 in 0.0 s" in retries[0].getMessage()
