#!/usr/bin/env python3
"""Old name of the migration: ``migrate_json_to_db.py [OUT_DIR] [DB_PATH] [gdpo migrate options]``.

A thin wrapper over ``gdpo migrate --from json_legacy:OUT_DIR --to sqlite:DB_PATH``; with no
DB_PATH the configured storage is the target. Every other option is passed through.
"""

import sys

from gdpo.cli import cli


VALUE_OPTIONS = {"--from", "--to", "--report", "--since", "--until", "--batch-size", "--restore-archive"}


def main(argv: list[str]) -> None:
    """Translate the old positional arguments and run ``gdpo migrate``."""
    positional: list[str] = []
    rest: list[str] = []
    args_iter = iter(argv)
    for arg in args_iter:
        if arg in VALUE_OPTIONS:
            rest += [arg, next(args_iter, "")]
        elif arg.startswith("-") or len(positional) == 2:
            rest.append(arg)
        else:
            positional.append(arg)
    args = ["migrate", "--from", f"json_legacy:{positional[0] if positional else 'out'}"]
    if "--to" not in rest:
        args += ["--to", f"sqlite:{positional[1]}" if len(positional) > 1 else "config"]
    cli.main(args + rest, prog_name="migrate_json_to_db.py")


if __name__ == "__main__":
    main(sys.argv[1:])
