"""The migration's progress bar: its look on a terminal, silence elsewhere, no extra thread."""

from __future__ import annotations

import io
import re
import threading

from gdpo.migrate.progress import Progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_fills_and_ends_its_line():
    stream = Tty()
    p = Progress(4, "files", stream, min_interval_s=0)
    for _ in range(4):
        p.advance()
    p.close()
    frames = [f for f in stream.getvalue().split("\r") if f]
    # tqdm pads the last frame with spaces when the one before it was longer (a longer rate)
    assert re.fullmatch(r"\[#{30}\] 4/4 files  [\d.,]+ files/s  0s left +\n", frames[-1]), frames[-1]
    assert any(f.startswith("[" + "#" * 15 + "-" * 15 + "] 2/4 files  ") for f in frames), frames
    assert p.done == 4


def test_silent_off_a_terminal_and_for_nothing_to_do():
    for stream, total in ((io.StringIO(), 3), (Tty(), 0)):
        p = Progress(total, "kinds", stream, min_interval_s=0)
        for _ in range(total):
            p.advance()
        p.close()
        assert stream.getvalue() == "" and p.done == total


def test_no_monitor_thread_is_left_behind():
    p = Progress(2, "files", Tty(), min_interval_s=0)
    p.advance(2)
    assert not [t.name for t in threading.enumerate() if "tqdm" in t.name]
    p.close()
