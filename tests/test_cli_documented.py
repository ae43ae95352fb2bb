"""Every `gdpo` command and option, every environment variable the code reads and every option
of scripts/install.sh is in docs/CLI.md (datasette-style: an undocumented one fails)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from gdpo.cli import cli

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "CLI.md").read_text(encoding="utf-8")


def _commands(cmd, path):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from _commands(cmd.commands[name], [*path, name])


COMMANDS = list(_commands(cli, ["gdpo"]))


def _section(title: str) -> str:
    m = re.search(rf"^### `{re.escape(title)}`\n(.*?)(?=^##)", DOC + "\n##", re.S | re.M)
    return m.group(1) if m else ""


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_option_is_documented(path, cmd):
    title = " ".join(path)
    section = _section(title)
    assert section, f"docs/CLI.md has no section for `{title}`"
    for p in cmd.params:
        if isinstance(p, click.Option):
            assert any(f"`{o}`" in section for o in p.opts), f"`{title}` {p.opts[0]} is not in docs/CLI.md"
            assert p.help, f"`{title}` {p.opts[0]} has no help text"
    assert cmd.help, f"`{title}` has no docstring"


def _env_vars() -> set[str]:
    names: set[str] = set()
    for pattern in ("core/**/*.py", "backends/**/*.py", "scripts/**/*", "deploy/**/*", "Dockerfile",
                    "docker-compose.yml", "tests/conftest.py", "tests/**/conftest.py"):
        for f in REPO.glob(pattern):
            if f.is_file():
                names |= set(re.findall(r"\b((?:GDPO|DATABASE|TIMESCALEDB)_[A-Z0-9_]*[A-Z0-9])\b",
                                        f.read_text(encoding="utf-8", errors="replace")))
    return names - {"DATABASE_ARCHITECTURE", "DATABASE_NAME"}  # a document's name, a constant


def test_every_environment_variable_is_documented():
    env_section = DOC.split("## Environment variables", 1)[1]
    missing = sorted(v for v in _env_vars() if f"`{v}`" not in env_section)
    assert not missing, f"environment variables missing from docs/CLI.md: {missing}"


def test_every_install_script_option_is_documented():
    script = (REPO / "scripts" / "install.sh").read_text()
    options = set(re.findall(r"^\s+(--[a-z-]+)\)", script, re.M))
    assert options
    section = DOC.split("## `scripts/install.sh`", 1)[1]
    missing = sorted(o for o in options if f"`{o}" not in section)
    assert not missing, f"scripts/install.sh options missing from docs/CLI.md: {missing}"
