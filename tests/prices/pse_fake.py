"""A local PSE stand-in on 127.0.0.1 serving constructed responses, and PSE-shaped rows."""

from __future__ import annotations

import datetime as _dt
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from gdpo.prices.timeline import QUARTER, day_quarter_starts, to_local

UTC = _dt.timezone.utc
_FILTER = re.compile(r"business_date eq '(\d{4}-\d{2}-\d{2})'")


def default_price(i: int, start: _dt.datetime) -> float:
    """A distinct PLN/MWh price per quarter index (some negative)."""
    return round(300.0 + 7.25 * i - (800.0 if i in (50, 51) else 0.0), 2)


def quarter_rows(day: _dt.date, price: Callable[[int, _dt.datetime], float] = default_price, *,
                 utc_fields: bool = True, period: bool = True, field: str = "csdac_pln") -> list[dict]:
    """PSE rows of a quarter-hour day: dtime = END of the period (local), period, *_utc twins."""
    rows = []
    for i, start in enumerate(day_quarter_starts(day)):
        end = start + QUARTER
        row = {"dtime": to_local(end).strftime("%Y-%m-%d %H:%M"), field: price(i, start),
               "business_date": day.isoformat(), "publication_ts": f"{day - _dt.timedelta(days=1)} 12:42:07"}
        if period:
            row["period"] = f"{to_local(start):%H:%M} - {to_local(end):%H:%M}"
        if utc_fields:
            row["dtime_utc"] = end.strftime("%Y-%m-%d %H:%M:%S")
            row["period_utc"] = f"{start:%H:%M} - {end:%H:%M}"
        rows.append(row)
    return rows


def hourly_rows(day: _dt.date, price: Callable[[int, _dt.datetime], float] = default_price, *,
                utc_fields: bool = False, period: bool = True) -> list[dict]:
    """PSE rows of an old hourly day (23, 24 or 25 rows)."""
    rows = []
    for i, start in enumerate(day_quarter_starts(day)[::4]):
        end = start + 4 * QUARTER
        row = {"dtime": to_local(end).strftime("%Y-%m-%d %H:%M"), "csdac_pln": price(i, start),
               "business_date": day.isoformat()}
        if period:
            row["period"] = f"{to_local(start):%H:%M} - {to_local(end):%H:%M}"
        if utc_fields:
            row["dtime_utc"] = end.strftime("%Y-%m-%d %H:%M:%S")
        rows.append(row)
    return rows


class FakePse:
    """HTTP server on 127.0.0.1 (ephemeral port). ``days[(report, "YYYY-MM-DD")]`` holds rows
    (served in pages of ``page_size`` with nextLink) or a callable returning
    ``(status, content_type, body_bytes)``; unknown days get an empty ``value`` list."""

    def __init__(self, page_size: int = 100):
        self.days: dict[tuple[str, str], object] = {}
        self.page_size = page_size
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                fake.requests.append(self.path)
                status, ctype, body = fake.respond(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/api"

    def start(self) -> "FakePse":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def respond(self, path: str) -> tuple[int, str, bytes]:
        parts = urlsplit(path)
        report = parts.path.rsplit("/", 1)[-1]
        query = parse_qs(parts.query)
        m = _FILTER.fullmatch(query.get("$filter", [""])[0])
        if not m:
            return 400, "application/json", b'{"error": "only OData options are accepted"}'
        entry = self.days.get((report, m.group(1)), [])
        if callable(entry):
            return entry()
        skip = int(query.get("$skip", ["0"])[0])
        page = entry[skip:skip + self.page_size]
        body: dict = {"value": page}
        if skip + self.page_size < len(entry):
            body["nextLink"] = (f"{self.base_url}/{report}?$filter=business_date eq '{m.group(1)}'"
                                f"&$skip={skip + self.page_size}")
        return 200, "application/json; charset=utf-8", json.dumps(body).encode()

    def requests_for(self, day: _dt.date) -> int:
        """How many requests asked for ``day``."""
        return sum(day.isoformat() in p or day.isoformat() in p.replace("%27", "'") for p in self.requests)


def closed_port_url() -> str:
    """A loopback base URL where nothing listens (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"
