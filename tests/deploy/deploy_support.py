"""Helpers of the deployment tests: a Dockerfile parser, CLI command lookup, and install.sh runs."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP_DIR = "/opt/goodwe-dynamic-price-optimiser"
DATA_DIR = f"{APP_DIR}/data"
UNIT_NAME = "goodwe-dynamic-price-optimiser.service"


# --------------------------------------------------------------------------- Dockerfile


@dataclass
class Instruction:
    """One Dockerfile instruction: its keyword, raw argument text and stage index."""

    keyword: str
    args: str
    stage: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (CMD, ENTRYPOINT, ...), or None."""
        text = self.args.strip()
        if self.keyword == "HEALTHCHECK":
            text = text.split("CMD", 1)[1].strip() if "CMD" in text else ""
        if text.startswith("["):
            return json.loads(text)
        return None


@dataclass
class Dockerfile:
    """A parsed Dockerfile: instructions in order, with the stage each belongs to."""

    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str, stage: int | None = None) -> list[Instruction]:
        """Every instruction with this keyword (in one stage, or anywhere)."""
        return [i for i in self.instructions if i.keyword == keyword and (stage is None or i.stage == stage)]

    @property
    def final_stage(self) -> int:
        """Index of the last build stage (the image that is run)."""
        return max(i.stage for i in self.instructions)


def parse_dockerfile(path: Path) -> Dockerfile:
    """Parse a Dockerfile: comments dropped, continuation lines joined, stages counted."""
    result = Dockerfile()
    stage = -1
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        result.instructions.append(Instruction(keyword, args.strip(), stage))
    return result


# --------------------------------------------------------------------------- the CLI


def cli_has_command(argv: list[str]) -> bool:
    """Whether ``argv`` (e.g. ``["gdpo", "db", "init"]``) names a command of the gdpo CLI."""
    import click

    from gdpo.cli import cli

    assert argv and argv[0] == "gdpo", f"not a gdpo command: {argv}"
    node: click.Command = cli
    matched = False
    for word in argv[1:]:
        if word.startswith("-") or not isinstance(node, click.Group):
            break
        sub = node.commands.get(word)
        if sub is None:
            return False
        node, matched = sub, True
    return matched and not isinstance(node, click.Group)


def shell_words(text: str) -> list[str]:
    """A shell command line split into words."""
    return shlex.split(text)


# --------------------------------------------------------------------------- the installation


@dataclass(frozen=True)
class Installation:
    """A finished scripts/install.sh run into a temporary root."""

    prefix: Path
    app_dir: Path
    output: str

    @property
    def venv_bin(self) -> Path:
        return self.app_dir / "venv" / "bin"

    @property
    def config(self) -> Path:
        return self.app_dir / "config" / "master_coordinator_config.yaml"

    @property
    def data_dir(self) -> Path:
        return self.app_dir / "data"

    @property
    def unit(self) -> Path:
        return self.prefix / "etc" / "systemd" / "system" / UNIT_NAME

    def env(self) -> dict[str, str]:
        """Environment for running the installed gdpo (its config, no inherited overrides)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_PATH", "GDPO_STORAGE_BACKEND", "TIMESCALEDB_DSN", "VIRTUAL_ENV")}
        env["GDPO_CONFIG"] = str(self.config)
        return env

    def gdpo(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the installed ``gdpo`` with ``args``."""
        return subprocess.run([str(self.venv_bin / "gdpo"), *args], capture_output=True, text=True,
                              env=self.env(), cwd=self.app_dir, timeout=timeout)


def run_install(prefix: Path, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run scripts/install.sh into ``prefix`` as the current user."""
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    cmd = ["bash", str(REPO / "scripts" / "install.sh"), "--prefix", str(prefix), "--user", user, *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "GDPO_CONFIG", "VIRTUAL_ENV")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
