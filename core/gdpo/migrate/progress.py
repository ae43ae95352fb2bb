"""A one-line progress bar (items per second, time left), drawn only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Progress of ``total`` items; silent unless ``stream`` is a TTY."""

    def __init__(self, total: int, label: str = "files", stream: TextIO | None = None, min_interval_s: float = 0.2):
        self.stream = stream or sys.stdout
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.label, self.done = total, label, 0
        self._t0 = time.monotonic()
        self._last = 0.0
        self._interval = min_interval_s

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done and redraw (at most every ``min_interval_s``)."""
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self._interval or self.done >= self.total:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._t0, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {self.label}  {rate:,.0f}/s  {left:,.0f}s left ")
        self.stream.flush()

    def close(self) -> None:
        """End the line of the bar."""
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
