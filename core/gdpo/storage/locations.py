"""Where gdpo keeps its data when the config does not say: the system directory for the
service user, a per-user directory for anyone else.

``/opt/goodwe-dynamic-price-optimiser/data`` is used when the running user can write it (the
``gdpo`` service user, root), or could create it. Anyone else gets
``$XDG_DATA_HOME/goodwe-dynamic-price-optimiser`` (by default
``~/.local/share/goodwe-dynamic-price-optimiser``), so that a first ``gdpo db init`` or
``gdpo run`` works for an ordinary user without editing a path. ``gdpo config check`` says
which one was taken, and why.
"""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_DATA_DIR = Path("/opt/goodwe-dynamic-price-optimiser/data")
DATABASE_NAME = "goodwe_energy.db"


def _writable(directory: Path) -> bool:
    """True when ``directory`` exists and can be written, or when its nearest existing parent can."""
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def user_data_dir(env: dict[str, str] | None = None) -> Path:
    """The per-user data directory (XDG base directory rules)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(base) / "goodwe-dynamic-price-optimiser"


def default_data_dir(env: dict[str, str] | None = None) -> tuple[Path, str]:
    """(directory, why): the system data directory when this user can write it, else the per-user one."""
    if _writable(SYSTEM_DATA_DIR):
        return SYSTEM_DATA_DIR, "the system data directory, writable by this user"
    return user_data_dir(env), f"per-user: {SYSTEM_DATA_DIR} is not writable by this user"


def default_database_path(env: dict[str, str] | None = None) -> str:
    """The default SQLite database file (see :func:`default_data_dir`)."""
    return str(default_data_dir(env)[0] / DATABASE_NAME)
