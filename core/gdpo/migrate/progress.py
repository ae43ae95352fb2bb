"""A one-line progress bar (items per second, time left), drawn only on a terminal.

Drawn by tqdm (rate and time left smoothed, redraws throttled); this module fixes only the
look, ``[#####-----] 5/10 files  123.45 files/s  4s left``, and that nothing at all is written
when the stream is not a terminal (a pipe, a log file, a test's captured output).
"""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

BAR_FORMAT = "[{bar:30}] {n}/{total}{unit}  {rate_noinv_fmt}  {remaining_s:,.0f}s left "


class _Bar(tqdm):
    """tqdm without its monitor thread (the redraw throttle is enough for one bar)."""

    monitor_interval = 0


class Progress:
    """Progress of ``total`` items; silent unless ``stream`` is a TTY."""

    def __init__(self, total: int, label: str = "files", stream: TextIO | None = None, min_interval_s: float = 0.2):
        self.stream = stream or sys.stdout
        self.enabled = bool(total) and bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.label = total, label
        self._bar = _Bar(total=total, unit=f" {label}", file=self.stream, disable=not self.enabled,
                         mininterval=min_interval_s, ascii="-#", bar_format=BAR_FORMAT,
                         dynamic_ncols=False, leave=True)

    @property
    def done(self) -> int:
        """Items counted so far."""
        return self._bar.n

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done and redraw (at most every ``min_interval_s``)."""
        if self.enabled:
            self._bar.update(n)
        else:
            self._bar.n += n

    def close(self) -> None:
        """Draw the final state and end the line of the bar."""
        self._bar.close()
