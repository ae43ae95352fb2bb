"""A migration refuses a source and target that are the same storage or overlapping trees."""

from __future__ import annotations

import pytest

from gdpo.config import ConfigError
from gdpo.migrate.runner import MigrationOptions, migrate
from gdpo.migrate.specs import parse_spec, same_location


def test_a_legacy_tree_as_its_root_and_as_its_out_directory_is_the_same(tmp_path):
    root = tmp_path / "project"
    assert same_location(parse_spec(f"json_legacy:{root}"), parse_spec(f"json_legacy:{root}/out"))
    assert same_location(parse_spec(f"json_legacy:{root}/out"), parse_spec(f"json_legacy:{root}/"))
    assert same_location(parse_spec(f"json_legacy:{root}"), parse_spec(f"json_legacy:{root}/out/sub"))


def test_separate_trees_are_not_the_same(tmp_path):
    assert not same_location(parse_spec(f"json_legacy:{tmp_path}/a"), parse_spec(f"json_legacy:{tmp_path}/b"))
    assert not same_location(parse_spec(f"json_legacy:{tmp_path}/a"), parse_spec(f"json_legacy:{tmp_path}/ab"))
    assert not same_location(parse_spec(f"json_legacy:{tmp_path}/a"), parse_spec(f"sqlite:{tmp_path}/a"))


async def test_an_export_into_its_own_tree_is_refused(tmp_path):
    (tmp_path / "project" / "out").mkdir(parents=True)
    with pytest.raises(ConfigError, match="the same"):
        await migrate(MigrationOptions(source=f"json_legacy:{tmp_path}/project",
                                       target=f"json_legacy:{tmp_path}/project/out"))
