#!/usr/bin/env python3
"""Print a command reference of `gdpo` in Markdown (every command, every option, from click).

    .venv/bin/python scripts/dev/cli_reference.py > /tmp/cli.md

docs/CLI.md started as this output and is kept by hand; tests/test_cli_documented.py fails
when a command or option is missing from it.
"""

from __future__ import annotations

import click

from gdpo.cli import cli


def commands(cmd: click.Command, path: list[str]):
    """(path, command) of ``cmd`` and every subcommand, depth first, sorted by name."""
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from commands(cmd.commands[name], [*path, name])


def option_line(p: click.Parameter) -> str:
    """One Markdown table row for an option or argument."""
    if isinstance(p, click.Argument):
        return f"| `{p.human_readable_name}` | argument{'' if p.required else ' (optional)'} |"
    names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
    help_text = (getattr(p, "help", None) or "").replace("|", "\\|")
    if getattr(p, "show_default", False) and p.default not in (None, False):
        help_text += f" (default: {p.default})"
    return f"| {names} | {help_text} |"


def main() -> None:
    """Print the reference."""
    for path, cmd in commands(cli, ["gdpo"]):
        ctx = click.Context(cmd, info_name=" ".join(path))
        print(f"### `{' '.join(path)}`\n")
        print(f"    {cmd.get_usage(ctx).replace('Usage: ', '')}\n")
        doc = (cmd.help or "").strip().split("\n\n")
        print(" ".join(line.strip() for line in doc[0].splitlines()) + "\n")
        params = [p for p in cmd.params if p.name != "help"]
        if params:
            print("| option | meaning |\n|---|---|")
            for p in params:
                print(option_line(p))
            print()


if __name__ == "__main__":
    main()
