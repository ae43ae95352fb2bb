"""Configuration: YAML loading, environment overrides, strict validation, masked secrets.

The configuration file is ``config/master_coordinator_config.yaml`` (or ``GDPO_CONFIG``,
or ``--config``). Each top-level section has a schema of :class:`~gdpo.settings_schema.Option`
values, declared by the package it configures: ``data_storage`` by the storage core
(:mod:`gdpo.storage.config_schema`), each storage backend its own ``data_storage.<name>``
section (its plugin options), the other components in their ``settings`` modules
(:data:`SECTION_MODULES`) or with :func:`register_section`. This module declares none: it
assembles them, applies the environment overrides the sections declare, validates every key,
and runs the sections' cross-field checks. An unknown key, a wrong nesting or an impossible
value stops start-up with a :class:`ConfigError` naming the key's path (and the nearest valid
key) and the file or environment variable it came from.

Every effective value remembers where it came from (``default``, ``file``, ``env:VAR``);
``gdpo config check`` prints them. Secrets (passwords, and the password inside a DSN) are
masked in every repr, log line and error.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import yaml

from gdpo.storage.locations import default_database_path
from gdpo.storage.settings import StorageSettings
from gdpo.settings_schema import Option, SettingsError, suggest
from gdpo.storage import config_schema as storage_schema
from gdpo.storage.config_schema import DATA_STORAGE_SCHEMA, LEGACY_REPLACEMENTS, LEGACY_STORAGE_SCHEMA
from gdpo.storage.secrets import MASK, mask_secrets

DEFAULT_CONFIG_PATHS = (
    Path("config/master_coordinator_config.yaml"),
    Path("/opt/goodwe-dynamic-price-optimiser/config/master_coordinator_config.yaml"),
)
#: The default SQLite file: the system data directory for the service user, else per-user
#: (``gdpo.storage.locations``).
DEFAULT_SQLITE_PATH = default_database_path()


class ConfigError(SettingsError):
    """A configuration problem; the message names the key path (and file) at fault."""


# --------------------------------------------------------------------------- secrets

# mask_secrets and MASK live in gdpo.storage.secrets (storage and its backends mask too, and import
# nothing of the application); re-exported here for callers of gdpo.config.


class Secret(str):
    """A string whose repr and str-in-containers never show it (``repr`` is masked)."""

    def __repr__(self) -> str:
        return repr(MASK)


# --------------------------------------------------------------------------- schemas

_SECTIONS: dict[str, dict[str, Any] | Callable[[], dict[str, Any]]] = {}

# Modules that declare top-level sections: each has ``SECTIONS = {name: schema}``, and may have
# ``check_config(data)`` (cross-field checks raising SettingsError naming the key) and
# ``ENV_OVERRIDES`` ((variable, key path, type), ...). The storage core's ``data_storage`` is
# gdpo.storage.config_schema (assembled with each backend's section in section_schemas).
SECTION_MODULES = ("gdpo.inverter.settings", "gdpo.prices.settings", "gdpo.coordinator.settings",
                   "gdpo.web.settings")


#: Cross-field checks of the section modules (``check_config(data)``, raising ConfigError
#: naming the key): run by every load, so ``gdpo config check`` refuses what ``gdpo run`` would.
_CHECKS: list[Callable[[dict[str, Any]], None]] = []


_ENV_OVERRIDES: list[tuple[str, tuple[str, ...], str]] = []


def _collect(mod) -> None:
    """Take a section module's cross-field checks and environment overrides."""
    check = getattr(mod, "check_config", None)
    if check is not None and check not in _CHECKS:
        _CHECKS.append(check)
    for override in getattr(mod, "ENV_OVERRIDES", ()):
        if override not in _ENV_OVERRIDES:
            _ENV_OVERRIDES.append(override)


def env_overrides() -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """Every environment override of every section: (variable, key path, type)."""
    section_schemas()
    return tuple(_ENV_OVERRIDES)


def register_section(name: str, schema: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
    """Declare a top-level config section (a schema, or a function returning one)."""
    _SECTIONS[name] = schema


def section_schemas() -> dict[str, dict[str, Any]]:
    """Every top-level section's schema, ``data_storage`` with its backends' sections."""
    from gdpo.storage.plugins import list_backends

    storage = dict(DATA_STORAGE_SCHEMA)
    for info in list_backends():
        if info.available or info.options:
            storage[info.name] = dict(info.options)
        else:
            storage[info.name] = None  # unavailable plugin: its section is kept unvalidated
    schemas = {"data_storage": storage}
    _collect(storage_schema)
    for module in SECTION_MODULES:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # that component is not part of this installation
            raise
        for name, schema in getattr(mod, "SECTIONS", {}).items():
            _SECTIONS.setdefault(name, schema)
        _collect(mod)
    for name, schema in _SECTIONS.items():
        schemas[name] = schema() if callable(schema) else schema
    return schemas


# --------------------------------------------------------------------------- the config object


@dataclass
class Config:
    """The effective configuration, with where each value came from."""

    data: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    secret_paths: frozenset[str] = frozenset()
    leaf_paths: tuple[str, ...] = ()
    dsn_paths: frozenset[str] = frozenset()  # secret DSNs: shown with their password masked

    def section(self, name: str) -> dict[str, Any]:
        """A top-level section (a deep copy; changing it does not change the config)."""
        return copy.deepcopy(self.data.get(name, {}))

    @property
    def data_storage(self) -> dict[str, Any]:
        """The ``data_storage`` section."""
        return self.section("data_storage")

    def storage_settings(self) -> StorageSettings:
        """The settings ``gdpo.storage.open_storage`` makes a Storage from (this config is their origin)."""
        return StorageSettings(self.data_storage, origin=self)

    def items(self) -> Iterator[tuple[str, Any, str]]:
        """(dotted key, masked value, source) for every leaf value."""
        for key in self.leaf_paths:
            yield key, self._shown(key, self.get(key)), self.sources.get(key, "default")

    def get(self, dotted: str, default: Any = None) -> Any:
        """The value at a dotted key path such as ``data_storage.sqlite.path``."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def _shown(self, key: str, value: Any) -> Any:
        if key in self.dsn_paths and isinstance(value, str):
            return mask_secrets(str(value))
        if key in self.secret_paths and value not in (None, ""):
            return MASK
        if isinstance(value, str):
            return mask_secrets(value)
        return value

    def masked(self) -> dict[str, Any]:
        """The configuration as a nested dict with every secret masked."""
        out: dict[str, Any] = {}
        for key, value, _ in self.items():
            node = out
            parts = key.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        return out

    def __repr__(self) -> str:
        return f"Config(path={str(self.path) if self.path else None!r}, data={self.masked()!r})"


def _present(raw: Mapping[str, Any], dotted: str) -> bool:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# --------------------------------------------------------------------------- loading


def find_config_path(explicit: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to use: ``explicit``, else ``GDPO_CONFIG``, else the default paths."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("GDPO_CONFIG"):
        return Path(env["GDPO_CONFIG"])
    for p in DEFAULT_CONFIG_PATHS:
        if p.is_file():
            return p
    return None


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML config file; errors name the file (and line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def load_config(source: str | os.PathLike | Mapping[str, Any] | Config | None = None, *,
                env: Mapping[str, str] | None = None, data_storage_only: bool = False) -> Config:
    """Load, override and validate the configuration.

    ``source`` is a path to a YAML file, a mapping of the whole file, a mapping of the
    ``data_storage`` section (``data_storage_only=True``), an existing Config (returned
    as is), or None (``GDPO_CONFIG`` or the default paths; defaults only when none exists).
    Environment overrides apply to files and defaults, not to mappings given in code.
    """
    if isinstance(source, Config):
        return source
    env = os.environ if env is None else env
    path: Path | None = None
    use_env = True
    if source is None or isinstance(source, (str, os.PathLike)):
        path = find_config_path(source, env)
        raw = read_yaml(path) if path else {}
    elif isinstance(source, Mapping):
        raw = {"data_storage": dict(source)} if data_storage_only else dict(source)
        use_env = False
    else:
        raise ConfigError(f"config must be a path or a mapping, got {type(source).__name__}")
    where = str(path) if path else "config"
    raw = copy.deepcopy(raw)
    env_sources: dict[str, str] = {}
    _apply_legacy_storage_keys(raw, where)
    given = copy.deepcopy(raw)
    schemas = section_schemas()
    if use_env:
        _apply_env(raw, env, env_sources)
    data: dict[str, Any] = {}
    secrets: dict[str, str] = {}  # secret key path -> its option type
    leaves: list[str] = []
    for name in raw:
        if name not in schemas:
            raise ConfigError(f"{where}: unknown section {name!r}{_nesting_hint(name, schemas)}")
    for name, schema in schemas.items():
        value = raw.get(name, {})
        if value is None:
            value = {}
        data[name] = _validate(value, schema, name, where, secrets, leaves)
    for check in _CHECKS:
        try:
            check(data)
        except SettingsError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    origin = f"file:{path}" if path else "code"
    sources = {k: env_sources.get(k) or (origin if _present(given, k) else "default") for k in leaves}
    return Config(data=data, sources=sources, path=path, secret_paths=frozenset(secrets),
                  leaf_paths=tuple(leaves), dsn_paths=frozenset(k for k, t in secrets.items() if t == "dsn"))


def storage_settings(source: str | os.PathLike | Mapping[str, Any] | Config | None = None) -> StorageSettings:
    """The storage settings of a config source, validated as :func:`load_config` validates
    (errors name the key and its source): a ``data_storage`` mapping (or a whole config
    mapping), a YAML path, a Config, or None for the default config. Registered as the
    storage's config loader (entry-point group ``gdpo.storage.settings``)."""
    if isinstance(source, Config):
        return source.storage_settings()
    if isinstance(source, Mapping):
        return load_config(source, data_storage_only="data_storage" not in source).storage_settings()
    return load_config(source).storage_settings()


def _nesting_hint(name: str, schemas: dict[str, Any]) -> str:
    """Where a misplaced top-level key belongs (``sqlite:`` -> ``data_storage.sqlite``), or a suggestion."""
    homes = [f"{section}.{name}" for section, schema in schemas.items() if isinstance(schema, dict) and name in schema]
    if homes:
        return f": it belongs under a section, as {' or '.join(homes)} (indent it there)"
    return _suggest(name, schemas)


_suggest = suggest


def _validate(value: Any, schema: dict[str, Any] | None, path: str, where: str, secrets: dict[str, str],
              leaves: list[str] | None = None) -> Any:
    leaves = [] if leaves is None else leaves
    if schema is None:  # a section of an unavailable plugin: kept as written
        leaves.append(path)
        return copy.deepcopy(value) if isinstance(value, dict) else value
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {path} must be a mapping of keys, got {_typename(value)}")
    for key in value:
        if key not in schema:
            raise ConfigError(f"{where}: unknown key {path}.{key}{_suggest(str(key), schema)}")
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        full = f"{path}.{key}"
        if isinstance(spec, dict) or spec is None:
            out[key] = _validate(value.get(key) or {}, spec, full, where, secrets, leaves)
            continue
        leaves.append(full)
        if spec.secret:
            secrets[full] = spec.type
        out[key] = _check_value(value[key], spec, full, where) if key in value else copy.deepcopy(spec.default)
    return out


def _typename(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(v), type(v).__name__)


def _check_value(v: Any, spec: Option, path: str, where: str) -> Any:
    shown = MASK if spec.secret else repr(mask_secrets(v) if isinstance(v, str) else v)
    if v is None:
        if spec.nullable or spec.default is None:
            return None
        raise ConfigError(f"{where}: {path} must not be empty")
    t = spec.type
    if t == "bool":
        if not isinstance(v, bool):
            raise ConfigError(f"{where}: {path} must be true or false, got {shown}")
    elif t == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where}: {path} must be a whole number, got {shown}")
    elif t == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: {path} must be a number, got {shown}")
        v = float(v)
    elif t in ("str", "path", "dsn"):
        if not isinstance(v, str) or (t == "path" and not v.strip()):
            raise ConfigError(f"{where}: {path} must be text, got {shown}")
    elif t == "list":
        if not isinstance(v, list):
            raise ConfigError(f"{where}: {path} must be a list, got {shown}")
    elif t == "dict":
        if not isinstance(v, dict):
            raise ConfigError(f"{where}: {path} must be a mapping, got {shown}")
    if spec.choices is not None and v not in spec.choices:
        raise ConfigError(f"{where}: {path} is {shown}; use one of {', '.join(map(str, spec.choices))}")
    if spec.min is not None and isinstance(v, (int, float)) and v < spec.min:
        raise ConfigError(f"{where}: {path} is {shown}; it must be at least {spec.min:g}")
    if spec.max is not None and isinstance(v, (int, float)) and v > spec.max:
        raise ConfigError(f"{where}: {path} is {shown}; it must be at most {spec.max:g}")
    return Secret(v) if spec.secret and isinstance(v, str) else copy.deepcopy(v)


def _set(raw: dict, keys: tuple[str, ...], value: Any) -> None:
    node = raw
    for k in keys[:-1]:
        nxt = node.get(k)
        if not isinstance(nxt, dict):
            nxt = node[k] = {}
        node = nxt
    node[keys[-1]] = value


def _apply_env(raw: dict, env: Mapping[str, str], sources: dict[str, str]) -> None:
    for var, keys, typ in _ENV_OVERRIDES:
        if var not in env or env[var] == "":
            continue
        value: Any = env[var]
        if typ == "int":
            try:
                value = int(value)
            except ValueError:
                raise ConfigError(f"environment: {var}={value!r} must be a whole number") from None
        _set(raw, keys, value)
        sources[".".join(keys)] = f"env:{var}"


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """Say ``message`` on stderr, once per process."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"Warning: {message}", file=sys.stderr)


def _apply_legacy_storage_keys(raw: dict, where: str) -> None:
    ds = raw.get("data_storage")
    if not isinstance(ds, dict):
        return
    legacy = {k: ds.pop(k) for k in list(ds) if k in LEGACY_STORAGE_SCHEMA}
    if not legacy:
        return
    checked = _validate(legacy, LEGACY_STORAGE_SCHEMA, "data_storage", where, {})
    for key in legacy:
        _warn_once(f"{where}: data_storage.{key} is deprecated; use {LEGACY_REPLACEMENTS[key]} instead")
    try:
        storage_schema.translate_legacy_keys(checked, ds)
    except SettingsError as exc:
        raise ConfigError(f"{where}: {exc}") from None
