"""Plugin discovery: entry points, GDPO_LOAD_PLUGINS, duplicates, broken plugins, third-party backends."""

import json
import os
import subprocess
import sys

import pytest

from gdpo.storage import BackendUnavailableError, hookimpl, open_storage
from gdpo.storage.memory import MemoryBackend
from gdpo.storage.plugins import (
    DuplicateBackendError,
    get_backend,
    get_plugin_manager,
    list_backends,
    reset_plugin_manager,
)


@pytest.fixture
def fresh_plugins(monkeypatch):
    """A plugin manager reloaded for this test (and again afterwards)."""
    reset_plugin_manager()
    yield monkeypatch
    monkeypatch.undo()
    reset_plugin_manager()


def names():
    return [b.name for b in list_backends()]


def test_builtin_backends_come_from_entry_points():
    infos = {b.name: b for b in list_backends()}
    for name, module in (("sqlite", "gdpo_sqlite"), ("timescaledb", "gdpo_timescaledb"),
                         ("json_legacy", "gdpo_json_legacy")):
        assert infos[name].module == module
        assert infos[name].package == "goodwe-dynamic-price-optimiser"
        assert infos[name].version


def test_gdpo_load_plugins_limits_entry_points(fresh_plugins):
    fresh_plugins.setenv("GDPO_LOAD_PLUGINS", "sqlite")
    reset_plugin_manager()
    assert names() == ["sqlite"]


def test_gdpo_load_plugins_empty_means_none(fresh_plugins):
    fresh_plugins.setenv("GDPO_LOAD_PLUGINS", "")
    reset_plugin_manager()
    assert names() == []
    with pytest.raises(BackendUnavailableError, match="GDPO_LOAD_PLUGINS"):
        get_backend("sqlite")


class _Dup:
    @hookimpl
    def gdpo_register_storage_backends(self, register):
        register("sqlite", MemoryBackend, description="an impostor")


def test_two_backends_with_one_name_are_refused():
    pm = get_plugin_manager()
    pm.register(_Dup(), name="impostor")
    try:
        with pytest.raises(DuplicateBackendError, match="'sqlite' is registered twice.*impostor"):
            list_backends()
    finally:
        pm.unregister(name="impostor")


class _Broken:
    @hookimpl
    def gdpo_register_storage_backends(self, register):
        import gdpo_no_such_driver  # noqa: F401


class _NeedsDriver:
    @hookimpl
    def gdpo_register_storage_backends(self, register):
        register("needs_driver", MemoryBackend, description="needs a driver", requires=("gdpo_no_such_driver",))


def test_broken_plugin_is_listed_unavailable_and_others_still_work():
    pm = get_plugin_manager()
    pm.register(_Broken(), name="broken")
    pm.register(_NeedsDriver(), name="needs")
    try:
        infos = {b.name: b for b in list_backends()}
        assert infos["sqlite"].available
        assert not infos["broken"].available
        assert "gdpo_no_such_driver" in infos["broken"].reason
        assert infos["broken"].fix == "pip install gdpo_no_such_driver"
        assert not infos["needs_driver"].available
        assert infos["needs_driver"].fix == "pip install gdpo_no_such_driver"
        with pytest.raises(BackendUnavailableError, match="unavailable.*pip install gdpo_no_such_driver"):
            get_backend("needs_driver")
    finally:
        pm.unregister(name="broken")
        pm.unregister(name="needs")
        reset_plugin_manager()


def test_missing_extra_driver_suggests_the_extra():
    from importlib.metadata import distribution

    from gdpo.storage.plugins import pip_command_for

    dist = distribution("goodwe-dynamic-price-optimiser")
    assert pip_command_for("asyncpg", dist) == "pip install 'goodwe-dynamic-price-optimiser[timescaledb]'"


def test_unknown_backend_names_the_registered_ones():
    with pytest.raises(BackendUnavailableError, match="no storage backend named 'nope'.*sqlite"):
        get_backend("nope")


THIRD_PARTY_PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "gdpo-thirdparty-example"
version = "1.2.3"

[project.entry-points."gdpo.storage"]
thirdparty = "gdpo_thirdparty_example"
"""

THIRD_PARTY_MODULE = '''
"""A third-party storage backend: it keeps records in memory, under its own name."""
from gdpo.storage import hookimpl
from gdpo.storage.memory import MemoryBackend


class ThirdPartyBackend(MemoryBackend):
    pass


@hookimpl
def gdpo_register_storage_backends(register):
    register("thirdparty", ThirdPartyBackend, description="Example third-party backend")
'''

USE_IT = '''
import asyncio, datetime as dt, sys
from gdpo.storage import open_storage

async def main():
    async with open_storage(sys.argv[1]) as storage:
        assert type(storage.backends["thirdparty"]).__name__ == "ThirdPartyBackend"
        ts = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
        await storage.write("energy_data", [{"ts": ts, "pv_power_w": 42}])
        print((await storage.latest("energy_data")).pv_power_w)

asyncio.run(main())
'''


@pytest.mark.slow
def test_third_party_distribution_is_found_and_selected(tmp_path):
    src = tmp_path / "src"
    (src / "gdpo_thirdparty_example").mkdir(parents=True)
    (src / "pyproject.toml").write_text(THIRD_PARTY_PYPROJECT)
    (src / "gdpo_thirdparty_example" / "__init__.py").write_text(THIRD_PARTY_MODULE)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("GDPO_LOAD_PLUGINS", None)
    gdpo = [sys.executable, "-m", "gdpo.cli"]
    listed = json.loads(subprocess.run(gdpo + ["backends", "--json"], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    entry = next(b for b in listed if b["name"] == "thirdparty")
    assert entry["available"] and entry["package"] == "gdpo-thirdparty-example" and entry["version"] == "1.2.3"
    assert entry["module"] == "gdpo_thirdparty_example"
    config = tmp_path / "config.yaml"
    config.write_text("data_storage:\n  backend: thirdparty\n  thirdparty: {store: x}\n")
    checked = subprocess.run(gdpo + ["config", "check", str(config)], env=env, capture_output=True, text=True)
    assert "unknown key" in checked.stderr  # its options were not declared: strict validation applies
    config.write_text("data_storage:\n  backend: thirdparty\n")
    out = subprocess.run([sys.executable, "-c", USE_IT, str(config)], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "42.0"


def test_listing_backends_imports_no_database_driver():
    """Discovering the backends (what every command does at start) imports no database driver:
    asyncpg and the TimescaleDB backend's modules load only when a configuration uses them
    (3.8 MB of resident memory a coordinator on SQLite does not carry)."""
    import subprocess
    import sys

    code = ("import sys; from gdpo.storage.plugins import list_backends; "
            "names = [b.name for b in list_backends()]; assert 'timescaledb' in names, names; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('asyncpg', 'gdpo_timescaledb')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['gdpo_timescaledb']", out
