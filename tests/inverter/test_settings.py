"""The ``inverter`` and ``collector`` config sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from gdpo.config import ConfigError, load_config
from gdpo.inverter.settings import SECTIONS

SHIPPED = Path(__file__).parents[2] / "config" / "master_coordinator_config.yaml"


def test_shipped_config_shows_the_defaults():
    shipped = load_config(SHIPPED, env={})
    defaults = load_config({}, env={})
    for section in SECTIONS:
        assert shipped.section(section) == defaults.section(section)
        assert shipped.sources[f"{section}.{next(iter(SECTIONS[section]))}"].startswith("file:")


@pytest.mark.parametrize("section, message", [
    ({"inverter": {"port": 70000}}, "inverter.port"),
    ({"inverter": {"family": "DT"}}, "inverter.family"),
    ({"inverter": {"timeout": "fast"}}, "inverter.timeout"),
    ({"inverter": {"hots": "127.0.0.1"}}, "did you mean 'host'"),
    ({"collector": {"interval_s": 0}}, "collector.interval_s"),
])
def test_bad_values_name_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        load_config(section, env={})
