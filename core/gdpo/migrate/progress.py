"""A one-line progress bar (items per second, time left), drawn only on a terminal.

Drawn by tqdm (rate and time left smoothed, redraws throttled); this module fixes only the
look, ``[#####-----] 5/10 files  123.45 files/s  4s left``, and that nothing at all is written
when the stream is not a terminal (a pipe, a log file, a test's captured output).
"""

from __future__ import annotations

import functools
import sys
from typing import TextIO

BAR_FORMAT = "[{bar:30}] {n}/{total}{unit}  {rate_noinv_fmt}  {remaining_s:,.0f}s left "


@functools.lru_cache(maxsize=1)
def _bar_class():
    """tqdm without its monitor thread (the redraw throttle is enough for one bar); tqdm,
    and the multiprocessing lock it makes, is imported only when a bar is drawn."""
    from tqdm import tqdm

    class _Bar(tqdm):
        monitor_interval = 0

    return _Bar


class Progress:
    """Progress of ``total`` items; silent unless ``stream`` is a TTY."""

    def __init__(self, total: int, label: str = "files", stream: TextIO | None = None, min_interval_s: float = 0.2):
        self.stream = stream or sys.stdout
        self.enabled = bool(total) and bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.label = total, label
        self._done = 0
        self._bar = None
        if self.enabled:
            self._bar = _bar_class()(total=total, unit=f" {label}", file=self.stream, mininterval=min_interval_s,
                                     ascii="-#", bar_format=BAR_FORMAT, dynamic_ncols=False, leave=True)

    @property
    def done(self) -> int:
        """Items counted so far."""
        return self._bar.n if self._bar is not None else self._done

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done and redraw (at most every ``min_interval_s``)."""
        if self._bar is not None:
            self._bar.update(n)
        else:
            self._done += n

    def close(self) -> None:
        """Draw the final state and end the line of the bar."""
        if self._bar is not None:
            self._bar.close()
