"""The optional provenance part of the backend protocol serves any file backend, not only json_legacy.

A small third-party backend (a directory of ``*.ndjson`` files of energy readings, on top of
the in-memory reference backend) implements ``gdpo.storage.provenance``; ``gdpo migrate``
reports its files (imported, quarantined with the reason), archives nothing it cannot, and
copies its records; the same backend without the methods is copied kind by kind.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pytest

from gdpo.migrate.runner import MigrationOptions, migrate
from gdpo.storage import Option, hookimpl, make_record
from gdpo.storage.memory import MemoryBackend
from gdpo.storage.plugins import get_plugin_manager
from gdpo.storage.provenance import SourceOutcome, SourceProvenance

UTC = _dt.timezone.utc


class NdjsonDirBackend(MemoryBackend):
    """Energy readings, one NDJSON file per day; loaded into memory on open."""

    def __init__(self, options=None, context=None):
        super().__init__({"store": "ndjsondir-" + str(options["directory"])}, context)
        self.directory = Path(options["directory"])
        self.outcomes: list[SourceOutcome] = []

    async def open(self) -> None:
        """Read every file (a test backend: small trees only) and keep each file's outcome."""
        await super().open()
        self.outcomes = []
        for path in sorted(self.directory.glob("*.ndjson")):
            out = SourceOutcome(path.name, label="readings")
            try:
                out.records = [make_record("energy_data", json.loads(line)) for line in path.read_text().splitlines()]
            except ValueError as exc:
                out.quarantine(f"not readings: {exc}")
            self.outcomes.append(out)
            if out.records:
                await self.write_batch("energy_data", out.records)


class ProvenanceBackend(NdjsonDirBackend):
    """The same, with the optional provenance part."""

    async def list_sources(self) -> list[str]:
        """The file names in read order."""
        return [o.path for o in self.outcomes]

    async def iter_sources(self):
        """Each file's outcome."""
        for outcome in self.outcomes:
            yield outcome

    def source_checks(self, sources):
        """No derived totals in these files."""
        return None


class Plugin:
    @hookimpl
    def gdpo_register_storage_backends(self, register):
        opts = {"directory": Option("path", "readings", "Directory of NDJSON files")}
        register("ndjsondir", NdjsonDirBackend, description="test: NDJSON readings", options=opts)
        register("ndjsonprov", ProvenanceBackend, description="test: NDJSON readings with provenance", options=opts)


@pytest.fixture(scope="module", autouse=True)
def plugin():
    pm = get_plugin_manager()
    plugin = Plugin()
    pm.register(plugin, name="test-ndjson-dir")
    yield
    pm.unregister(plugin)


def _reading(minute: int) -> dict:
    return {"ts": _dt.datetime(2026, 3, 1, 12, minute, tzinfo=UTC).isoformat(), "pv_power_w": 100.0 + minute,
            "grid_power_w": 5.0, "battery_power_w": 0.0, "battery_soc_pct": 50.0}


def _tree(tmp_path: Path, backend: str) -> Path:
    d = tmp_path / "readings"
    d.mkdir()
    (d / "day1.ndjson").write_text("\n".join(json.dumps(_reading(m)) for m in range(3)))
    (d / "day2.ndjson").write_text(json.dumps(_reading(10)) + "\n{not json\n")
    cfg = tmp_path / "gdpo.yaml"
    cfg.write_text(f"data_storage:\n  backend: {backend}\n  {backend}: {{directory: {d}}}\n")
    return cfg


async def test_a_third_party_file_backend_gets_a_report_per_file(tmp_path):
    cfg = _tree(tmp_path, "ndjsonprov")
    assert isinstance(ProvenanceBackend({"directory": tmp_path}), SourceProvenance)
    report = await migrate(MigrationOptions(source=f"config:{cfg}", target=f"sqlite:{tmp_path / 'copy.db'}"))
    assert report["files"] == {"total": 2, "import": 1, "quarantine": 1}
    assert [q["path"] for q in report["quarantined"]] == ["day2.ndjson"]
    assert report["quarantined"][0]["reason"].startswith("not readings")
    assert report["per_kind"]["energy_data"]["in_target"] == 3
    assert report["checksums_match"] is True and report["exit_code"] == 1


async def test_without_the_optional_part_it_is_copied_kind_by_kind(tmp_path):
    cfg = _tree(tmp_path, "ndjsondir")
    report = await migrate(MigrationOptions(source=f"config:{cfg}", target=f"sqlite:{tmp_path / 'copy.db'}"))
    assert report["files"] == {} and report["quarantined"] == []
    assert report["per_kind"]["energy_data"]["in_target"] == 3
    assert report["checksums_match"] is True and report["exit_code"] == 0


async def test_archive_needs_a_backend_that_can_archive(tmp_path):
    from gdpo.config import ConfigError

    cfg = _tree(tmp_path, "ndjsonprov")
    with pytest.raises(ConfigError, match="--archive needs a source backend that can archive"):
        await migrate(MigrationOptions(source=f"config:{cfg}", target=f"sqlite:{tmp_path / 'c.db'}", archive=True))
