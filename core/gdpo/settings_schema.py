"""Declared options of a config section: type, default, limits, help and secrecy.

The one module below every package that declares settings: the storage core and its
backends (``data_storage.<name>``), the inverter, the coordinator, prices and the web
dashboard each declare their own sections with :class:`Option`, and :mod:`gdpo.config`
assembles them, validates a section against them, fills defaults and records where every
value came from. It imports nothing of gdpo, so any package may import it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the key (``gdpo.config.ConfigError``
    is this error with the file or environment variable it came from)."""


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``choices``, else the list of valid ones."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(sorted(choices))})"


@dataclass(frozen=True)
class Option:
    """One configuration value.

    type: ``str``, ``int``, ``float``, ``bool``, ``path``, ``dsn`` (a libpq connection
        string, validated as text), ``list`` or ``dict``.
    secret: the value is masked wherever it is shown (``***``); for a ``dsn`` only its
        password is (``postgresql://user:***@host/db``, ``password=***``): DSNs and passwords
        are declared secret.
    nullable: ``None`` is accepted.
    """

    type: str
    default: Any = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    secret: bool = False
    nullable: bool = False
    env: str | None = None  # environment variable that overrides it (documentation)


Schema = dict  # name -> Option | Schema (a nested section)
