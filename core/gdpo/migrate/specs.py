"""Backend specs of ``gdpo migrate`` / ``gdpo export``: ``json_legacy:DIR``, ``sqlite:PATH``,
``timescaledb:DSN``, ``memory:STORE`` (tests) or ``config[:PATH]`` (the configured storage)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdpo.config import ConfigError, mask_secrets

SPEC_FORMS = "json_legacy:DIR, sqlite:PATH, timescaledb:DSN or config"


@dataclass(frozen=True)
class BackendSpec:
    """A parsed backend spec: the backend name, its location and the storage config to open."""

    text: str
    backend: str
    location: str | None
    config: Any  # a data_storage mapping, or a gdpo.config.Config

    @property
    def shown(self) -> str:
        """The spec with any password masked."""
        return mask_secrets(self.text)

    def exists(self) -> bool:
        """Whether the location already holds something (a missing file or directory is empty)."""
        location = self.location
        if location is None and self.backend in ("json_legacy", "sqlite"):
            section = self.config.data_storage.get(self.backend) or {}
            location = section.get("directory" if self.backend == "json_legacy" else "path")
        if self.backend in ("json_legacy", "sqlite") and location:
            return Path(location).expanduser().exists()
        return True


def same_location(a: BackendSpec, b: BackendSpec) -> bool:
    """True when two specs name the same storage (the same file or legacy tree)."""
    if a.text == b.text:
        return True
    if a.backend != b.backend or a.location is None or b.location is None:
        return False
    if a.backend == "json_legacy":
        from gdpo.migrate.tree import LegacyTree

        return LegacyTree.at(a.location).root == LegacyTree.at(b.location).root
    if a.backend == "sqlite":
        return Path(a.location).expanduser().resolve() == Path(b.location).expanduser().resolve()
    return a.location == b.location


def parse_spec(text: str) -> BackendSpec:
    """Parse a backend spec; a malformed one raises ConfigError (exit status 2)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty backend spec (use {SPEC_FORMS})")
    name, sep, rest = text.partition(":")
    name = name.strip()
    if name == "config":
        from gdpo.config import load_config

        cfg = load_config(rest or None)
        return BackendSpec(text, cfg.data_storage.get("backend", "sqlite"), rest or None, cfg)
    if not sep or not rest:
        raise ConfigError(f"backend spec {mask_secrets(text)!r} needs a location: use {SPEC_FORMS}")
    if name == "json_legacy":
        return BackendSpec(text, name, rest, {"backend": name, name: {"directory": rest}})
    if name == "sqlite":
        return BackendSpec(text, name, rest, {"backend": name, name: {"path": rest}})
    if name == "timescaledb":
        return BackendSpec(text, name, rest, {"backend": name, name: {"dsn": rest}})
    if name == "memory":
        return BackendSpec(text, name, rest, {"backend": name, name: {"store": rest}})
    raise ConfigError(f"unknown backend spec {mask_secrets(text)!r}: use {SPEC_FORMS}")
