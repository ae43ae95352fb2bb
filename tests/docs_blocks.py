"""The shell blocks of README.md and docs/*.md, and the docs-test marker that decides each.

A fenced block tagged ``sh``, ``bash``, ``shell`` or ``console`` must be preceded (blank lines
between allowed) by an HTML comment that says what the docs test does with it::

    <!-- docs-test: skip (needs root and systemd) -->
    <!-- docs-test: run -->
    <!-- docs-test: run; timeout 60; exit 1; replace `--speed 60` with `--speed 720` (why) -->
    <!-- docs-test: run; drop `python3 -m venv .venv && ` (why) -->

``skip`` needs a reason in parentheses. ``run`` may bound the block (``timeout N`` seconds,
default 60), expect another exit status (``exit N``), and rewrite its text before running it:
``replace `A` with `B``` and ``drop `A``` (each ``A`` must occur in the block), a reason in
parentheses after each. A long-running block (``gdpo web``, ``gdpo run`` without an end) is
either bounded by a replacement (``--duration``) or marked ``start; check `CMD```: it is started
in the background, ``CMD`` is retried until it exits 0 (within the timeout), then the block is
stopped with SIGTERM and must be gone within 10 s::

    <!-- docs-test: run; timeout 30; start; check `curl -fsS http://127.0.0.1:8080/health` -->

``env NAME`` passes the test's environment variable NAME into the block (e.g. ``env
TIMESCALEDB_TEST_DSN``, the throwaway server); without it the block is skipped (under
``CI=true``: fails). Such a block runs outside the loopback-only network namespace, since the
server listens on the host's loopback, but still as the unprivileged user. ``{legacy}`` in a replacement stands for an old system's tree: a copy of
tests/migrate/legacy_samples/tree without the files it damages on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELL_TAGS = ("sh", "bash", "shell", "console")
CONFIG_TAGS = ("yaml", "yml")
DEFAULT_TIMEOUT_S = 60

_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
_MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->", re.S)
_REPLACE = re.compile(r"replace\s+`([^`]+)`\s+with\s+`([^`]*)`")
_DROP = re.compile(r"drop\s+`([^`]+)`")


@dataclass
class Block:
    """One shell block: where it is, its text and the marker before it (``None``: no marker)."""

    doc: str
    line: int
    tag: str
    text: str
    marker: str | None
    mode: str = ""
    reason: str = ""
    timeout_s: int = DEFAULT_TIMEOUT_S
    exit_status: int = 0
    rewrites: list[tuple[str, str]] = field(default_factory=list)
    check: str | None = None
    needs_env: list[str] = field(default_factory=list)
    problem: str = ""

    @property
    def where(self) -> str:
        """``doc:line`` of the opening fence."""
        return f"{self.doc}:{self.line}"

    def script(self) -> str:
        """The block's text with the marker's rewrites applied."""
        text = self.text
        if self.tag == "console":  # commands are the lines after a "$ " prompt, the rest is output
            text = "".join(line[2:] + "\n" for line in text.splitlines() if line.startswith("$ "))
        for old, new in self.rewrites:
            text = text.replace(old, new)
        return text


def documents() -> list[Path]:
    """README.md and every docs/*.md, in the order the docs test runs them."""
    return [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))


def parse_marker(block: Block) -> Block:
    """Fill ``block``'s mode, reason, bounds and rewrites from its marker; ``problem`` says
    what is wrong with a missing or malformed one."""
    if block.marker is None:
        block.problem = ("no <!-- docs-test: run --> or <!-- docs-test: skip (reason) --> marker "
                         "before the block (the markers: tests/docs_blocks.py)")
        return block
    text = block.marker
    if text.startswith("skip"):
        block.mode = "skip"
        m = re.match(r"skip\s*\((.+)\)\s*$", text, re.S)
        if not m or not m.group(1).strip():
            block.problem = "a skip marker needs its reason in parentheses"
        block.reason = m.group(1).strip() if m else ""
        return block
    if not re.match(r"run\b", text):
        block.problem = f"unknown docs-test marker {text!r} (run or skip)"
        return block
    block.mode = "run"
    if m := re.search(r"\btimeout (\d+)", text):
        block.timeout_s = int(m.group(1))
    if m := re.search(r"\bexit (\d+)", text):
        block.exit_status = int(m.group(1))
    block.needs_env = re.findall(r";\s*env\s+([A-Z_][A-Z0-9_]*)", text)
    if re.search(r";\s*start\b", text):
        m = re.search(r"\bcheck\s+`([^`]+)`", text)
        if not m:
            block.problem = "a start marker needs check `CMD`: the command that shows the started block works"
        block.check = m.group(1) if m else "false"
    block.rewrites = [(a, b) for a, b in _REPLACE.findall(text)] + [(a, "") for a in _DROP.findall(text)]
    missing = [old for old, _ in block.rewrites if old not in block.text]
    if len(block.rewrites) != len(re.findall(r"\b(?:replace|drop)\b", text)):
        block.problem = "a replace or drop the marker names is not of the form replace `A` with `B` / drop `A`"
    elif missing:
        block.problem = f"the marker rewrites text the block does not contain: {missing}"
    return block


def blocks_of(path: Path, text: str | None = None, with_config: bool = False) -> list[Block]:
    """Every shell block of the Markdown file ``path`` (or of ``text``), with its marker parsed;
    with ``with_config`` also the YAML blocks (config snippets), their marker unparsed."""
    lines = (path.read_text() if text is None else text).splitlines()
    name = str(path.relative_to(REPO)) if path.is_absolute() and REPO in path.parents else str(path)
    found, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, tag = m.group(1), m.group(2).lower()
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        body = "\n".join(lines[i + 1:end]) + "\n"
        if tag in SHELL_TAGS:
            found.append(parse_marker(Block(name, i + 1, tag, body, _marker_before(lines, i))))
        elif tag in CONFIG_TAGS and with_config:
            found.append(Block(name, i + 1, tag, body, _marker_before(lines, i)))
        elif not tag and _looks_like_commands(body):
            found.append(Block(name, i + 1, tag, body, None,
                               problem="an untagged block of commands: tag it bash (and mark it) or text"))
        i = end + 1
    return found


_COMMAND_WORDS = ("gdpo ", "sudo ", "docker ", "python", "pip ", ".venv/", "scripts/", "git ", "cd ", "export ")


def _looks_like_commands(body: str) -> bool:
    """True for an untagged block whose lines are all commands (not a synopsis with [options]
    or {choices}, not output)."""
    lines = [line for line in body.splitlines() if line.strip()]
    return bool(lines) and all(line.startswith(_COMMAND_WORDS) and not re.search(r"[\[{]|\w\|\w", line)
                               for line in lines)


def _marker_before(lines: list[str], index: int) -> str | None:
    """The docs-test marker ending on the last non-blank line before ``lines[index]``."""
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0 or not lines[j].rstrip().endswith("-->"):
        return None
    start = j
    while start >= 0 and "<!--" not in lines[start]:
        start -= 1
    m = _MARKER.search("\n".join(lines[max(start, 0):j + 1]))
    return m.group(1) if m else None
