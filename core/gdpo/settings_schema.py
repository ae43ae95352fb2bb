"""Declared options of a config section: type, default, limits, help and secrecy.

The one module below every package that declares settings: the storage core and its
backends (``data_storage.<name>``), the inverter, the coordinator, prices and the web
dashboard each declare their own sections with :class:`Option`, and :mod:`gdpo.config`
assembles them, validates a section against them, fills defaults and records where every
value came from. It imports nothing of gdpo, so any package may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
