"""Secrets: every libpq spelling of a password is masked; DSNs and passwords are secret options."""

from __future__ import annotations

import pytest

from gdpo.config import MASK, load_config, mask_secrets
from gdpo.storage.plugins import get_backend

PW = "hunter2-xyz"


@pytest.mark.parametrize("text, shown", [
    (f"host=db password={PW} user=x", "host=db password=*** user=x"),
    (f"host=db PASSWORD = {PW} user=x", "host=db PASSWORD = *** user=x"),
    (f"PGPASSWORD={PW} gdpo migrate --to config", "PGPASSWORD=*** gdpo migrate --to config"),
    (f"export PGPASSWORD='{PW} two'", "export PGPASSWORD=***"),
    (f"sslmode=verify-full sslpassword={PW} sslkey=/k", "sslmode=verify-full sslpassword=*** sslkey=/k"),
    (f"host=db password='pa ss {PW}' dbname=gdpo", "host=db password=*** dbname=gdpo"),
    (f"host=db password='it\\'s {PW}' dbname=gdpo", "host=db password=*** dbname=gdpo"),
    (f'host=db password="pa ss {PW}" dbname=gdpo', "host=db password=*** dbname=gdpo"),
    (f"postgresql://gdpo:{PW}@db:5432/gdpo", "postgresql://gdpo:***@db:5432/gdpo"),
    (f"postgresql://gdpo:p@ss{PW}@db:5432/gdpo", "postgresql://gdpo:***@db:5432/gdpo"),
    (f"postgresql://gdpo@db/gdpo?sslmode=require&password={PW}&application_name=x",
     "postgresql://gdpo@db/gdpo?sslmode=require&password=***&application_name=x"),
    (f"postgresql://gdpo@db/gdpo?sslpassword={PW}", "postgresql://gdpo@db/gdpo?sslpassword=***"),
    (f"error at 'postgresql://gdpo:{PW}@db/gdpo': refused", "error at 'postgresql://gdpo:***@db/gdpo': refused"),
])
def test_every_password_spelling_is_masked(text, shown):
    assert mask_secrets(text) == shown
    assert PW not in mask_secrets(text)


@pytest.mark.parametrize("text", ["postgresql://gdpo@db:5432/gdpo", "password authentication failed for user gdpo",
                                  "password_file=/etc/gdpo/pw", "host=db user=x"])
def test_text_without_a_password_is_left_alone(text):
    assert mask_secrets(text) == text


def test_the_dsn_is_a_secret_option_shown_without_its_password():
    pytest.importorskip("gdpo_timescaledb")
    assert get_backend("timescaledb").options["dsn"].secret
    dsn = f"host=db.example port=5432 user=gdpo password='a b {PW}' dbname=gdpo"
    cfg = load_config({"backend": "timescaledb", "timescaledb": {"dsn": dsn}}, data_storage_only=True)
    shown = dict((k, v) for k, v, _ in cfg.items())
    assert shown["data_storage.timescaledb.dsn"] == "host=db.example port=5432 user=gdpo password=*** dbname=gdpo"
    assert PW not in repr(cfg) and PW not in repr(cfg.data_storage) and PW not in str(cfg.masked())
    assert cfg.get("data_storage.timescaledb.dsn") == dsn, "the value itself is unchanged"
    assert MASK not in shown["data_storage.timescaledb.schema"]
