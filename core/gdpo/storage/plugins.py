"""Finding storage backends: the pluggy manager, entry points and the backend registry.

Backends come from plugins registered under the entry-point group ``gdpo.storage`` (the
built-in ones included, exactly as a third-party distribution would register) or from
objects registered by hand with ``get_plugin_manager().register(obj, name=...)``.
``GDPO_LOAD_PLUGINS`` (a comma list of entry-point names; empty means none) limits which
entry points load. A plugin that fails to import is listed as unavailable with the reason
and the pip command that fixes it; the others keep working.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pluggy

from gdpo.storage import hookspecs
from gdpo.storage.errors import BackendUnavailableError, StorageError

ENTRY_POINT_GROUP = "gdpo.storage"
DISTRIBUTION = "goodwe-dynamic-price-optimiser"


class DuplicateBackendError(StorageError):
    """Two plugins registered a backend under the same name."""


@dataclass
class BackendInfo:
    """One storage backend as listed by ``gdpo backends``."""

    name: str
    factory: Callable[..., Any] | None
    description: str = ""
    plugin: str = ""
    module: str = ""
    package: str | None = None
    version: str | None = None
    available: bool = True
    reason: str | None = None
    fix: str | None = None
    kinds: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The fields ``gdpo backends --json`` prints."""
        return {
            "name": self.name,
            "available": self.available,
            "module": self.module,
            "package": self.package,
            "version": self.version,
            "plugin": self.plugin,
            "description": self.description,
            "kinds": list(self.kinds),
            "reason": self.reason,
            "fix": self.fix,
        }


@dataclass
class _LoadFailure:
    plugin: str
    module: str
    package: str | None
    version: str | None
    reason: str
    fix: str | None


_lock = threading.Lock()
_pm: pluggy.PluginManager | None = None
_failures: list[_LoadFailure] = []
_entry_points: dict[str, md.EntryPoint] = {}


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with the allowed entry points loaded once."""
    global _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager("gdpo")
            pm.add_hookspecs(hookspecs)
            _load_entry_points(pm)
            _pm = pm
        return _pm


def reset_plugin_manager() -> None:
    """Forget the loaded plugins (tests that change GDPO_LOAD_PLUGINS use this)."""
    global _pm
    with _lock:
        _pm = None
        _failures.clear()
        _entry_points.clear()


def allowed_plugins() -> set[str] | None:
    """Entry-point names allowed by ``GDPO_LOAD_PLUGINS``; None means all."""
    raw = os.environ.get("GDPO_LOAD_PLUGINS")
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = allowed_plugins()
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        dist = getattr(ep, "dist", None)
        package = dist.metadata["Name"] if dist else None
        version = dist.version if dist else None
        if ep.name in _entry_points:
            continue  # the same distribution seen twice on sys.path
        _entry_points[ep.name] = ep
        try:
            obj = ep.load()
        except Exception as exc:  # an import error must not break the other plugins
            _failures.append(_LoadFailure(ep.name, ep.value, package, version,
                                          _describe(exc, ep.value), _fix_for(exc, dist, ep.value)))
            continue
        if pm.is_registered(obj):
            continue
        pm.register(obj, name=ep.name)


def _own_module(exc: BaseException, plugin_module: str) -> bool:
    """True when the module that is missing is part of the plugin itself (a broken install)."""
    top = plugin_module.split(":")[0].split(".")[0]
    return bool(getattr(exc, "name", None)) and exc.name.split(".")[0] == top


def _describe(exc: BaseException, plugin_module: str = "") -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name and not _own_module(exc, plugin_module):
        return f"driver missing: no module named {exc.name!r}"
    return f"failed to load: {type(exc).__name__}: {exc}"


def _fix_for(exc: BaseException, dist, plugin_module: str = "") -> str | None:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        if _own_module(exc, plugin_module):
            name = dist.metadata["Name"] if dist is not None else plugin_module
            return f"pip install --force-reinstall {name}"
        return pip_command_for(exc.name.split(".")[0], dist)
    return None


def pip_command_for(module: str, dist=None) -> str:
    """The pip command that installs ``module``: the distribution's extra that requires it,
    when there is one, else the module itself."""
    if dist is not None:
        extras: dict[str, int] = {}
        providing: list[str] = []
        for req in dist.requires or ():
            m = re.match(r"^\s*([A-Za-z0-9_.\-]+).*extra\s*==\s*['\"]([^'\"]+)['\"]", req)
            if m:
                extras[m.group(2)] = extras.get(m.group(2), 0) + 1
                if _norm(m.group(1)) == _norm(module):
                    providing.append(m.group(2))
        if providing:  # the smallest extra that brings the module: the one made for it
            best = min(providing, key=lambda e: (extras[e], e))
            return f"pip install '{dist.metadata['Name']}[{best}]'"
    return f"pip install {module}"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _plugin_origin(pm: pluggy.PluginManager, plugin_name: str, plugin: Any) -> tuple[str, str | None, str | None]:
    module = getattr(plugin, "__name__", type(plugin).__module__)
    ep = _entry_points.get(plugin_name)
    dist = getattr(ep, "dist", None) if ep else None
    if dist is not None:
        return module, dist.metadata["Name"], dist.version
    return module, None, None


def list_backends() -> list[BackendInfo]:
    """Every backend the loaded plugins register, plus plugins that failed to load.

    Raises :class:`DuplicateBackendError` when two plugins use the same backend name.
    """
    pm = get_plugin_manager()
    found: dict[str, BackendInfo] = {}
    for impl in pm.hook.gdpo_register_storage_backends.get_hookimpls():
        module, package, version = _plugin_origin(pm, impl.plugin_name, impl.plugin)

        def register(name: str, factory: Callable[..., Any], *, description: str = "",
                     requires: tuple[str, ...] | list[str] = (), options: Mapping[str, Any] | None = None,
                     kinds=None, _plugin=impl.plugin_name, _module=module, _package=package,
                     _version=version) -> None:
            if name in found:
                other = found[name]
                raise DuplicateBackendError(
                    f"storage backend {name!r} is registered twice: by plugin {other.plugin!r} "
                    f"({other.package or other.module}) and by plugin {_plugin!r} ({_package or _module}); "
                    f"uninstall one, or choose plugins with GDPO_LOAD_PLUGINS")
            if kinds is None:
                caps = getattr(factory, "capabilities", None)
                kinds = sorted(caps.kinds) if caps is not None else []
            info = BackendInfo(name=name, factory=factory, description=description, plugin=_plugin,
                               module=_module, package=_package, version=_version,
                               kinds=tuple(kinds), options=dict(options or {}), requires=tuple(requires))
            missing = [m for m in info.requires if importlib.util.find_spec(m) is None]
            if missing:
                dist = getattr(_entry_points.get(_plugin), "dist", None)
                info.available = False
                info.reason = f"driver missing: no module named {missing[0]!r}"
                info.fix = pip_command_for(missing[0], dist)
            found[name] = info

        try:
            impl.function(register=register)
        except DuplicateBackendError:
            raise
        except Exception as exc:  # a broken plugin is listed as unavailable, the others still work
            dist = getattr(_entry_points.get(impl.plugin_name), "dist", None)
            _failures.append(_LoadFailure(impl.plugin_name, module, package, version,
                                          _describe(exc, module), _fix_for(exc, dist, module)))
    seen: set[str] = set()
    for failure in _failures:
        if failure.plugin not in found and failure.plugin not in seen:
            seen.add(failure.plugin)
            found[failure.plugin] = BackendInfo(
                name=failure.plugin, factory=None, plugin=failure.plugin, module=failure.module,
                package=failure.package, version=failure.version, available=False,
                reason=failure.reason, fix=failure.fix)
    return sorted(found.values(), key=lambda b: b.name)


def get_backend(name: str) -> BackendInfo:
    """The registered backend ``name``, available; otherwise a clear error saying why not."""
    backends = {b.name: b for b in list_backends()}
    info = backends.get(name)
    if info is None:
        allowed = allowed_plugins()
        hint = " (GDPO_LOAD_PLUGINS limits which plugins load)" if allowed is not None else ""
        known = ", ".join(sorted(backends)) or "none"
        raise BackendUnavailableError(f"no storage backend named {name!r}{hint}; registered: {known}")
    if not info.available:
        fix = f"; fix: {info.fix}" if info.fix else ""
        raise BackendUnavailableError(f"storage backend {name!r} is unavailable: {info.reason}{fix}")
    return info
