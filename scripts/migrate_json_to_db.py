#!/usr/bin/env python3
"""Old name of the migration: ``migrate_json_to_db.py [OUT_DIR] [DB_PATH] [gdpo migrate options]``.

A thin wrapper over ``gdpo migrate --from json_legacy:OUT_DIR --to sqlite:DB_PATH``; with no
DB_PATH the configured storage is the target. Every other option is passed through.
"""

import os
import sys
from pathlib import Path


def _interpreter_with_gdpo() -> str | None:
    """The Python of gdpo's virtualenv (the checkout's ``.venv``, or the installed one)."""
    here = Path(__file__).resolve().parent.parent
    for venv in (here / ".venv", Path("/opt/goodwe-dynamic-price-optimiser/venv")):
        python = venv / "bin" / "python"
        if python.is_file() and os.access(python, os.X_OK) and Path(sys.executable).resolve() != python.resolve():
            return str(python)
    return None


try:
    from gdpo.cli import cli
except ModuleNotFoundError as exc:  # run with a Python that lacks gdpo: use the virtualenv's
    if exc.name != "gdpo":
        raise
    python = _interpreter_with_gdpo()
    if python is None:
        sys.exit("migrate_json_to_db.py: gdpo is not installed for this Python and no virtualenv was found "
                 "(.venv beside the script, or /opt/goodwe-dynamic-price-optimiser/venv); run it with that "
                 "virtualenv's python, or use `gdpo migrate` directly")
    os.execv(python, [python, __file__, *sys.argv[1:]])


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
