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

    @property
    def resolved_location(self) -> str | None:
        """The location, for ``config`` taken from its ``data_storage`` section."""
        if self.location is not None or self.backend not in ("json_legacy", "sqlite"):
            return self.location
        section = self.config.data_storage.get(self.backend) or {}
        value = section.get("directory" if self.backend == "json_legacy" else "path")
        return str(value) if value is not None else None

    def exists(self) -> bool:
        """Whether the location already holds something (a missing file or directory is empty)."""
        location = self.resolved_location
        if self.backend in ("json_legacy", "sqlite") and location:
            return Path(location).expanduser().exists()
        return True


def typed_password_warning(option: str, text: str | None) -> str | None:
    """A warning when the spec given to ``option`` (``--to``, ``--from``) holds a password:
    typed on the command line it lands in the shell history and the process list."""
    if not text or mask_secrets(text) == text:
        return None
    return (f"warning: {option} {mask_secrets(text)} holds a password, which the shell history and the process "
            f"list keep; leave it out of the DSN and set PGPASSWORD in the environment, or put it in a file "
            f"readable only by you (chmod 600) named by data_storage.timescaledb.password_file (--to/--from config)")


def _nested(a: Path, b: Path) -> bool:
    """True when one directory is the other or inside it: a directory backend given as ``DIR``
    and as a directory below it (a legacy tree as its root and as its ``out/``) overlaps itself."""
    ra, rb = a.expanduser().resolve(), b.expanduser().resolve()
    return ra == rb or ra.is_relative_to(rb) or rb.is_relative_to(ra)


def same_location(a: BackendSpec, b: BackendSpec) -> bool:
    """True when two specs name the same storage (the same file), or overlapping directory
    trees (a legacy tree, or one directory inside the other)."""
    if a.text == b.text:
        return True
    la, lb = a.resolved_location, b.resolved_location
    if a.backend != b.backend or la is None or lb is None:
        return False
    if a.backend == "json_legacy":
        return _nested(Path(la), Path(lb))
    if a.backend == "sqlite":
        return Path(la).expanduser().resolve() == Path(lb).expanduser().resolve()
    return la == lb


def parse_spec(text: str) -> BackendSpec:
    """Parse a backend spec; a malformed one raises ConfigError (exit status 2)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"empty backend spec (use {SPEC_FORMS})")
    name, sep, rest = text.partition(":")
    name = name.strip()
    if name == "config":
        from gdpo.config import load_config

        cfg = load_config(rest or None)
        return BackendSpec(text, cfg.data_storage.get("backend", "sqlite"), None, cfg)
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
