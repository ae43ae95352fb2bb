"""open_storage's settings: StorageSettings from gdpo.config, a mapping through the registered loader."""

from __future__ import annotations

import pytest

from gdpo.config import ConfigError, load_config
from gdpo.storage import open_storage
from gdpo.storage.errors import StorageSettingsError
from gdpo.storage import settings as storage_settings_mod
from gdpo.storage.settings import StorageSettings, storage_settings


async def test_open_storage_takes_the_settings_the_config_builds(tmp_path):
    cfg = load_config({"backend": "sqlite", "sqlite": {"path": str(tmp_path / "gdpo.db")}}, data_storage_only=True)
    settings = cfg.storage_settings()
    assert isinstance(settings, StorageSettings) and settings.origin is cfg
    async with open_storage(settings) as storage:
        assert set(storage.backends) == {"sqlite"}
    assert (tmp_path / "gdpo.db").exists()


def test_a_mapping_goes_through_the_registered_loader_which_names_key_and_source():
    settings = storage_settings({"backend": "sqlite"})
    assert settings.data_storage["backend"] == "sqlite"
    assert settings.data_storage["batch"]["size"] == 10  # defaults filled by the config loader
    with pytest.raises(ConfigError, match=r"config: unknown key data_storage\.batch\.sise"):
        storage_settings({"backend": "sqlite", "batch": {"sise": 3}})


def test_without_a_registered_loader_only_settings_are_accepted(monkeypatch):
    monkeypatch.setattr(storage_settings_mod, "_registered_loader", lambda: None)
    given = StorageSettings({"backend": "memory"})
    assert storage_settings(given) is given
    with pytest.raises(StorageSettingsError, match="no config loader is installed"):
        storage_settings({"backend": "memory"})


def test_settings_never_show_their_secrets():
    s = StorageSettings({"backend": "timescaledb", "timescaledb": {"dsn": "postgresql://u:hunter2@127.0.0.1/db"}})
    assert "hunter2" not in repr(s)
