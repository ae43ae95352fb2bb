"""The ``gdpo`` command line. Each command group lives in its own module under
``gdpo.commands``; plugins add theirs through the ``gdpo_register_commands`` hook.

Errors are printed as one line naming the file, key or backend at fault, with a non-zero
exit status and no traceback (``GDPO_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys

import click

from gdpo import __version__


EXIT_FAILURE = 1
EXIT_USAGE = 2


class GdpoGroup(click.Group):
    """A click group that turns known errors into one clear line and an exit status."""

    def invoke(self, ctx: click.Context):
        from gdpo.config import ConfigError, mask_secrets
        from gdpo.storage.errors import StorageError, StorageMissingError, StorageSettingsError

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (ConfigError, StorageSettingsError, StorageMissingError) as exc:  # fix the config or argument (or create the database)
            _fail(mask_secrets(str(exc)), EXIT_USAGE, exc)
        except StorageError as exc:
            _fail(mask_secrets(str(exc)), EXIT_FAILURE, exc)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except OSError as exc:
            _fail(mask_secrets(str(exc)), EXIT_FAILURE, exc)


def _fail(message: str, code: int, exc: BaseException) -> None:
    if os.environ.get("GDPO_DEBUG"):
        raise exc
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.group(cls=GdpoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gdpo")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """gdpo: GoodWe hybrid inverter coordinator on Polish dynamic electricity prices."""
    setup_logging(logging.WARNING - 10 * min(verbose, 2))


class SecretMaskingFilter(logging.Filter):
    """Masks passwords (in DSNs and ``password=`` pairs) in every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from gdpo.config import mask_secrets

        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def setup_logging(level: int) -> None:
    """Log to stderr at ``level``, with secrets masked in every line."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretMaskingFilter) for f in handler.filters):
            handler.addFilter(SecretMaskingFilter())


def _load_commands() -> None:
    """Add every module of ``gdpo.commands`` (each has ``register(cli)``), then plugins' commands."""
    import gdpo.commands

    for mod in sorted(pkgutil.iter_modules(gdpo.commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"gdpo.commands.{mod.name}").register(cli)
    try:
        from gdpo.storage.plugins import get_plugin_manager

        get_plugin_manager().hook.gdpo_register_commands(cli=cli)
    except Exception as exc:  # a broken plugin must not take the whole CLI down
        click.echo(f"Warning: a plugin failed to add its commands: {exc}", err=True)


_load_commands()


def main() -> None:
    """Entry point of the ``gdpo`` command."""
    cli(prog_name="gdpo")


if __name__ == "__main__":
    main()
