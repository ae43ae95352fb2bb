#!/usr/bin/env python3
"""Old name of the migration: ``migrate_json_to_db.py [OUT_DIR] [DB_PATH] [gdpo migrate options]``.

A thin wrapper over ``gdpo migrate --from json_legacy:OUT_DIR --to sqlite:DB_PATH``; with no
DB_PATH the configured storage is the target. Every other option is passed through.
"""

import sys

from gdpo.cli import cli


def main(argv: list[str]) -> None:
    """Translate the old positional arguments and run ``gdpo migrate``."""
    positional = [a for a in argv if not a.startswith("-")][:2]
    rest = [a for a in argv if a not in positional]
    args = ["migrate", "--from", f"json_legacy:{positional[0] if positional else 'out'}"]
    if "--to" not in rest:
        args += ["--to", f"sqlite:{positional[1]}" if len(positional) > 1 else "config"]
    cli.main(args + rest, prog_name="migrate_json_to_db.py")


if __name__ == "__main__":
    main(sys.argv[1:])
