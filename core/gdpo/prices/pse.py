"""Async client of the PSE reports API (``csdac-pln`` day-ahead prices, ``rce-pln`` export value).

Built on ``httpx.AsyncClient``: httpx is already a base dependency of gdpo, it is async
without blocking the event loop, has per-request timeouts and connection pooling, and can be
pointed at any base URL (a mirror, or a local test server on loopback). aiohttp would add a
second HTTP stack for no gain.

``GET {base}/csdac-pln?$filter=business_date eq 'YYYY-MM-DD'`` (OData options only), then
``nextLink`` until it is absent. Connection errors, timeouts and HTTP 429/5xx are retried
with exponential backoff (tenacity); other failures are raised at once. Nothing is parsed into prices
here: see :mod:`gdpo.prices.parse`.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
from typing import Any, Mapping
from urllib.parse import unquote_plus

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential

from gdpo.prices.errors import PseResponseError, PseUnreachableError
from gdpo.prices.settings import PSE_PUBLIC_API_URL

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _Retryable(Exception):
    """An attempt failed in a way another attempt may fix (carries the final error)."""

    def __init__(self, error: Exception):
        self.error = error


class PseClient:
    """Fetches raw rows of a PSE report for one business date.

    ``async with PseClient.from_config(prices_section) as pse: rows = await pse.fetch_rows(
    "csdac-pln", date)``. ``transport`` is for tests (an ``httpx`` transport); normally the
    client talks HTTP to ``base_url``.
    """

    def __init__(self, base_url: str | None = None, *, timeout_s: float = 10.0, retries: int = 3,
                 retry_backoff_s: float = 2.0, max_pages: int = 20,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = (base_url or PSE_PUBLIC_API_URL).rstrip("/")
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self.max_pages = max_pages
        self._origin = httpx.URL(self.base_url)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), transport=transport,
                                       headers={"Accept": "application/json"}, follow_redirects=False)

    @classmethod
    def from_config(cls, prices: Mapping[str, Any]) -> "PseClient":
        """A client configured from the ``prices`` config section."""
        return cls(prices.get("pse_base_url"),
                   timeout_s=prices.get("timeout_s", 10.0), retries=prices.get("retries", 3),
                   retry_backoff_s=prices.get("retry_backoff_s", 2.0), max_pages=prices.get("max_pages", 20))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> "PseClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def fetch_rows(self, report: str, business_date: _dt.date) -> list[Any]:
        """Every row of ``report`` (e.g. ``csdac-pln``) for ``business_date``, all pages.

        Raises ``PseUnreachableError`` when no answer came after the retries, and
        ``PseResponseError`` for an HTTP error, a non-JSON or truncated body, or a body
        without a ``value`` list.
        """
        url = httpx.URL(f"{self.base_url}/{report}",
                        params={"$filter": f"business_date eq '{business_date.isoformat()}'"})
        rows: list[Any] = []
        seen: set[str] = set()
        for _ in range(self.max_pages):
            seen.add(str(url))
            body = await self._get_json(url)
            page = body.get("value")
            if not isinstance(page, list):
                raise PseResponseError(f"{_show(url)}: the JSON has no 'value' list "
                                       f"(keys: {', '.join(map(str, body)) or 'none'})")
            rows.extend(page)
            link = body.get("nextLink") or body.get("@odata.nextLink")
            if not link:
                return rows
            url = self._next_url(url, link)
            if str(url) in seen:
                raise PseResponseError(f"{_show(url)}: nextLink repeats a page already read")
        raise PseResponseError(f"{report} {business_date}: more than {self.max_pages} pages (prices.max_pages)")

    def _next_url(self, current: httpx.URL, link: Any) -> httpx.URL:
        if not isinstance(link, str):
            raise PseResponseError(f"{_show(current)}: nextLink is not a URL: {link!r:.80}")
        url = current.join(link)
        if (url.scheme, url.host, url.port) != (self._origin.scheme, self._origin.host, self._origin.port):
            raise PseResponseError(f"{_show(current)}: nextLink leads to another host ({url.host}); "
                                   f"only {self._origin.host} (prices.pse_base_url) is followed")
        return url

    async def _get_json(self, url: httpx.URL) -> dict[str, Any]:
        """One page as JSON: ``retries`` more attempts after a retryable failure, waiting
        ``retry_backoff_s`` doubling (tenacity); then the last attempt's error."""
        def log_retry(state: RetryCallState) -> None:
            log.warning("PSE request failed (%s); retry %d of %d in %.1f s", state.outcome.exception().error,
                        state.attempt_number, self.retries, state.next_action.sleep)

        retrying = AsyncRetrying(stop=stop_after_attempt(self.retries + 1),
                                 wait=wait_exponential(multiplier=self.retry_backoff_s, max=math.inf),
                                 retry=retry_if_exception_type(_Retryable), before_sleep=log_retry, reraise=True)
        try:
            return await retrying(self._attempt, url)
        except _Retryable as retry:
            raise retry.error from None

    async def _attempt(self, url: httpx.URL) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
        except httpx.TimeoutException as exc:
            raise _Retryable(PseUnreachableError(f"{_show(url)}: no answer within the timeout "
                                                 f"({type(exc).__name__})")) from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise _Retryable(PseUnreachableError(f"{_show(url)}: cannot connect: {reason}")) from None
        status = response.status_code
        if status in RETRY_STATUSES:
            raise _Retryable(PseResponseError(f"{_show(url)}: HTTP {status} {response.reason_phrase}"))
        if status != 200:
            raise PseResponseError(f"{_show(url)}: HTTP {status} {response.reason_phrase}"
                                   f"{_snippet(response.text)}")
        text = response.text
        ctype = response.headers.get("content-type", "")
        if "html" in ctype.lower() or text.lstrip()[:1] == "<":
            raise PseResponseError(f"{_show(url)}: got an HTML page instead of JSON (HTTP {status}, "
                                   f"{ctype or 'no content type'}){_snippet(text)}")
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise PseResponseError(f"{_show(url)}: invalid or truncated JSON ({len(text)} bytes): {exc}") from None
        if not isinstance(body, dict):
            raise PseResponseError(f"{_show(url)}: expected a JSON object, got {type(body).__name__}")
        return body


def _show(url: httpx.URL) -> str:
    """The URL as a reader wants to see it (query decoded)."""
    return unquote_plus(str(url))


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return f": {flat[:120]}" if flat else ""
