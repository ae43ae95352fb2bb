"""The settings a Storage is made from: the validated ``data_storage`` section.

The storage core knows no application: it is handed a :class:`StorageSettings`, which the
application's config loader builds (``gdpo.config.Config.storage_settings()``). For
convenience ``open_storage`` also takes what a config loader takes (a ``data_storage``
mapping, a whole config mapping, a YAML path, or None for the default config); that is
turned into settings by the loader the installed application registers under the
entry-point group ``gdpo.storage.settings`` (the way backends register under
``gdpo.storage``), so this package imports nothing of the application.
"""

from __future__ import annotations

import copy
import importlib.metadata as md
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from gdpo.storage.errors import StorageSettingsError

#: Entry-point group of the loader that turns a config source into :class:`StorageSettings`.
ENTRY_POINT_GROUP = "gdpo.storage.settings"


@dataclass(frozen=True)
class StorageSettings:
    """The validated ``data_storage`` section, defaults filled in.

    origin: the application's config object these settings were taken from (for a caller
        that needs more than storage), or None.
    """

    section: Mapping[str, Any]
    origin: Any = None

    @property
    def data_storage(self) -> dict[str, Any]:
        """The ``data_storage`` section (a deep copy; changing it changes nothing here)."""
        return copy.deepcopy(dict(self.section))

    def __repr__(self) -> str:  # the section may hold secrets: show only what it routes to
        return f"StorageSettings(backend={self.section.get('backend')!r})"


_loaders: list[Callable[[Any], StorageSettings]] = []


def _registered_loader() -> Callable[[Any], StorageSettings] | None:
    if not _loaders:
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            _loaders.append(ep.load())
            break
    return _loaders[0] if _loaders else None


def storage_settings(config: Any = None) -> StorageSettings:
    """The :class:`StorageSettings` of ``config``: given as they are; built by a config object
    that has a ``storage_settings()`` method; otherwise (a mapping, a YAML path, None) loaded by
    the application's registered loader, whose errors name the key and its source.
    Reads files (the YAML, the entry points): call it from a worker thread in a coroutine."""
    if isinstance(config, StorageSettings):
        return config
    build = getattr(config, "storage_settings", None)
    if callable(build):
        return build()
    loader = _registered_loader()
    if loader is None:
        raise StorageSettingsError(
            f"no config loader is installed (entry-point group {ENTRY_POINT_GROUP}) to read "
            f"{type(config).__name__ if config is not None else 'the default config'}; give StorageSettings")
    return loader(config)
