"""Configuration: YAML, env overrides, upstream keys, strict validation, masked secrets."""

import logging
import textwrap

import pytest

from gdpo.config import ConfigError, load_config, mask_secrets


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_defaults_without_a_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GDPO_CONFIG", raising=False)
    cfg = load_config(None, env={})
    assert cfg.path is None
    assert cfg.get("data_storage.backend") == "sqlite"
    assert cfg.get("data_storage.batch.size") == 10
    assert cfg.sources["data_storage.backend"] == "default"


def test_shipped_config_is_valid():
    from pathlib import Path

    path = Path(__file__).parent.parent / "config" / "master_coordinator_config.yaml"
    cfg = load_config(path, env={})
    assert cfg.get("data_storage.backend") == "sqlite"
    assert cfg.sources["data_storage.backend"].startswith("file:")


def test_file_values_and_sources(tmp_path):
    p = write(tmp_path, """
        data_storage:
          backend: sqlite
          sqlite: {path: /tmp/x.db}
          batch: {size: 20}
    """)
    cfg = load_config(p, env={})
    assert cfg.get("data_storage.sqlite.path") == "/tmp/x.db"
    assert cfg.sources["data_storage.sqlite.path"] == f"file:{p}"
    assert cfg.sources["data_storage.batch.max_size"] == "default"


def test_env_overrides(tmp_path):
    p = write(tmp_path, "data_storage: {backend: json_legacy, sqlite: {path: /a.db}}\n")
    cfg = load_config(p, env={"DATABASE_PATH": "/b.db", "DATABASE_POOL_SIZE": "4",
                               "GDPO_STORAGE_BACKEND": "sqlite",
                               "TIMESCALEDB_DSN": "postgresql://u:hunter2@localhost/db"})
    assert cfg.get("data_storage.sqlite.path") == "/b.db"
    assert cfg.get("data_storage.sqlite.pool.max") == 4
    assert cfg.get("data_storage.backend") == "sqlite"
    assert cfg.sources["data_storage.sqlite.path"] == "env:DATABASE_PATH"
    assert cfg.get("data_storage.timescaledb.dsn") == "postgresql://u:hunter2@localhost/db"


def test_gdpo_config_env_names_the_file(tmp_path):
    p = write(tmp_path, "data_storage: {backend: json_legacy}\n")
    assert load_config(None, env={"GDPO_CONFIG": str(p)}).get("data_storage.backend") == "json_legacy"


def test_bad_env_value_is_named():
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE"):
        load_config(None, env={"DATABASE_POOL_SIZE": "many"})


@pytest.mark.parametrize("text, words", [
    ("data_storage: {bakend: sqlite}\n", ["unknown key data_storage.bakend", "did you mean 'backend'"]),
    ("data_storage: {sqlite: {pth: /x}}\n", ["data_storage.sqlite.pth", "'path'"]),
    ("data_storag: {}\n", ["unknown section 'data_storag'", "data_storage"]),
    ("data_storage: {batch: {size: 0}}\n", ["data_storage.batch.size", "at least 1"]),
    ("data_storage: {batch: {size: 60}}\n", ["data_storage.batch.size", "at most 50"]),
    ("data_storage: {batch: {size: ten}}\n", ["data_storage.batch.size", "whole number"]),
    ("data_storage: {batch: 5}\n", ["data_storage.batch must be a mapping"]),
    ("data_storage: {backend: sqlit}\n", ["data_storage.backend", "did you mean 'sqlite'"]),
    ("data_storage: {backend: hybrid, hybrid: {sessions: nope}}\n", ["data_storage.hybrid.sessions"]),
    ("data_storage: {hybrid: {routes: {energy: sqlite}}}\n", ["data_storage.hybrid.routes.energy", "energy_data"]),
    ("data_storage: {batch: {size: 40, max_size: 30}}\n", ["batch.size (40)", "max_size (30)"]),
    ("data_storage: [1, 2]\n", ["data_storage must be a mapping"]),
    ("- a\n- b\n", ["top level must be a mapping"]),
    ("data_storage: {backend: [\n", ["invalid YAML", "line"]),
])
def test_invalid_config_names_the_key(tmp_path, text, words):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(p, env={})
    assert str(p) in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml", env={})


def test_upstream_keys_still_understood_with_warning(tmp_path, capsys):
    p = write(tmp_path, """
        data_storage:
          file_storage: {enabled: false}
          database_storage:
            enabled: true
            sqlite: {path: /opt/x/goodwe_energy.db}
    """)
    cfg = load_config(p, env={})
    assert "deprecated" in capsys.readouterr().err
    assert cfg.get("data_storage.backend") == "sqlite"
    assert cfg.get("data_storage.sqlite.path") == "/opt/x/goodwe_energy.db"


def test_upstream_file_storage_only_means_json_legacy(tmp_path):
    p = write(tmp_path, "data_storage: {file_storage: {enabled: true}, database_storage: {enabled: false}}\n")
    assert load_config(p, env={}).get("data_storage.backend") == "json_legacy"


def test_upstream_keys_both_disabled_is_an_error(tmp_path):
    p = write(tmp_path, "data_storage: {file_storage: {enabled: false}, database_storage: {enabled: false}}\n")
    with pytest.raises(ConfigError, match="nothing would be stored"):
        load_config(p, env={})


def test_mask_secrets():
    assert mask_secrets("postgresql://gdpo:s3cr3t@db:5432/gdpo") == "postgresql://gdpo:***@db:5432/gdpo"
    assert mask_secrets("host=db password=s3cr3t user=x") == "host=db password=*** user=x"
    assert mask_secrets("postgresql://gdpo@db/gdpo") == "postgresql://gdpo@db/gdpo"


def test_password_never_in_repr_items_or_errors(tmp_path, caplog):
    p = write(tmp_path, "data_storage: {timescaledb: {dsn: 'postgresql://gdpo:hunter2@localhost/gdpo'}}\n")
    cfg = load_config(p, env={})
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("config %r", cfg)
    assert "hunter2" not in repr(cfg)
    assert "hunter2" not in str(cfg.masked())
    assert "hunter2" not in str(list(cfg.items()))
    assert "hunter2" not in caplog.text
    bad = write(tmp_path, "data_storage: {timescaledb: {dsn: 5}, batch: {size: 'postgresql://a:hunter2@h/d'}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad, env={})
    assert "hunter2" not in str(err.value)


def test_mapping_given_in_code_ignores_environment():
    cfg = load_config({"backend": "sqlite", "sqlite": {"path": "/code.db"}}, env={"DATABASE_PATH": "/env.db"},
                      data_storage_only=True)
    assert cfg.get("data_storage.sqlite.path") == "/code.db"
    assert cfg.sources["data_storage.sqlite.path"] == "code"
