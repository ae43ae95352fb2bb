"""The architecture document keeps up with the code: schema diagrams list every column."""

import re
from pathlib import Path

import pytest

from gdpo.storage.records import KINDS

DOC = (Path(__file__).parent.parent / "docs" / "DATABASE_ARCHITECTURE.md").read_text()


def diagram(title: str) -> str:
    section = DOC.split(f"### {title}\n", 1)[1]
    return section.split("```mermaid", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("backend", ["SQLite", "TimescaleDB"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_schema_diagram_lists_every_column(backend, kind):
    entity = re.search(rf"\n    {kind} \{{\n(.*?)\n    \}}", diagram(backend), re.S)
    assert entity, f"{kind} missing from the {backend} diagram"
    columns = [line.split()[1] for line in entity.group(1).splitlines()]
    assert columns == list(KINDS[kind].field_names)


@pytest.mark.parametrize("name", ["storage-sqlite.md", "storage-timescaledb.md", "storage-service.md",
                                  "MIGRATION_GUIDE.md"])
def test_linked_chapters_exist(name):
    assert f"({name})" in DOC
    assert (Path(__file__).parent.parent / "docs" / name).is_file()
