"""Layering rules: which package may know what (docs/DATABASE_ARCHITECTURE.md, "A file backend, walked through").

Each rule is an entry of ``RULES``: the product modules it scans (``.py`` files under the
given directories of the repository, docs and tests are never scanned), the directories
exempt from it, and the regular expressions none of the scanned modules may contain. Add a
rule by adding an entry; ``test_each_rule_can_fail`` checks every rule on a planted file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Rule:
    """Scanned modules under ``roots`` (minus ``exempt``) must not match any of ``patterns``."""

    name: str
    why: str
    roots: tuple[str, ...]
    exempt: tuple[str, ...]
    patterns: tuple[str, ...]
    planted: str  # a line that breaks the rule (for the test that the rule can fail)
    #: violations not fixed yet, each file with the reason: tolerated (and listed here, so
    #: they are seen); remove an entry once its file keeps the rule
    pending: tuple[tuple[str, str], ...] = ()


#: an import of a gdpo module other than the allowed ones (``{allowed}``: an alternation)
_GDPO_IMPORT_OUTSIDE = r"^\s*(?:from|import)\s+gdpo\.(?!(?:{allowed})\b)\w+"
#: ``from gdpo import config`` and the like: a module of gdpo taken by name
_FROM_GDPO_IMPORT = r"^\s*from\s+gdpo\s+import\b"

RULES: tuple[Rule, ...] = (
    Rule(
        name="legacy-file-patterns",
        why="the legacy JSON format (its file names, layouts and globs) belongs to backends/json_legacy; "
            "the migration and everything else reach legacy files only through the storage API and "
            "the optional provenance part of the backend protocol (gdpo.storage.provenance)",
        roots=("core", "backends"),
        exempt=("backends/json_legacy",),
        patterns=(
            r"energy_data_(?:\d|\*|\{|%)",  # energy_data_YYYYMMDD.json (not the energy_data_hourly table)
            r"(?:\*|\d)_decision_",  # *_decision_*.json
            r"coordinator_state_",
            r"charging_schedule_",
            r"daily_plan_",
            r"daily_stats_(?:\d|\*|\{|%)",
            r"monthly_snapshot_",
            r"multi_session_data",
            r"battery_selling_analytics",
            r"partial_charging_sessions",
            r"price_history\.json",
            r"price_cache\.json",
            r"daily_soc_drops",
            r"sensor_investigation",
            r"gdpo-rollups\.ndjson",
            r"archive_index\.json",
            r"archive_moves\.log",
        ),
        planted='PATTERN = "out/coordinator_state_*.json"\n',
    ),
    Rule(
        name="migrate-imports-no-backend",
        why="gdpo.migrate is a backend-agnostic copier: it opens backends through gdpo.storage and "
            "learns of files only through gdpo.storage.provenance, never from a backend's package",
        roots=("core/gdpo/migrate",),
        exempt=(),
        patterns=(r"^\s*(?:from|import)\s+gdpo_\w+",),
        planted="    from gdpo_json_legacy.tree import LegacyTree\n",
    ),
    Rule(
        name="backends-import-only-gdpo-storage",
        why="a backend imports only gdpo.storage and gdpo.settings_schema (and its own package, the "
            "standard library and its driver), never the application: secret masking is "
            "gdpo.storage.secrets.mask_secrets, a wrong storage argument is gdpo.storage.errors.StorageSettingsError",
        roots=("backends",),
        exempt=(),
        patterns=(_GDPO_IMPORT_OUTSIDE.format(allowed=r"storage|settings_schema"), _FROM_GDPO_IMPORT),
        planted="    from gdpo.config import mask_secrets\n",
    ),
    Rule(
        name="backends-no-private-driver-or-record-api",
        why="no private API of a driver (aiosqlite Connection._execute/_conn, asyncpg exceptions._base) or "
            "of gdpo.storage.records (_INDEX, _trusted, _validated, _fast_check: use INDEX, as_tuple, "
            "from_trusted, validate), and no process-wide sqlite3 adapter or converter",
        roots=("backends",),
        exempt=(),
        patterns=(r"\._execute\(", r"\._conn\b", r"exceptions\._base", r"\._INDEX\b", r"\._trusted\(",
                  r"\._validated\(",
                  r"\b_fast_check\b", r"sqlite3\.register_(?:adapter|converter)"),
        planted="    return await conn._execute(fn, conn._conn, *args)\n",
    ),
    Rule(
        name="storage-imports-no-application",
        why="the storage core knows no consumer: gdpo.storage imports nothing of gdpo outside "
            "gdpo.storage except the shared option declarations (gdpo.settings_schema); the "
            "application (gdpo.config) builds its settings and hands them to open_storage",
        roots=("core/gdpo/storage",),
        exempt=(),
        patterns=(_GDPO_IMPORT_OUTSIDE.format(allowed=r"storage|settings_schema"), _FROM_GDPO_IMPORT),
        planted="    from gdpo.config import load_config\n",
    ),
    Rule(
        name="inverter-imports-no-storage",
        why="the inverter knows no storage: it declares its settings with gdpo.settings_schema "
            "and hands readings to its caller",
        roots=("core/gdpo/inverter",),
        exempt=(),
        patterns=(r"^\s*(?:from|import)\s+gdpo\.storage\b", r"^\s*from\s+gdpo\s+import\s+.*\bstorage\b"),
        planted="from gdpo.storage.options import Option\n",
    ),
    Rule(
        name="section-schemas-in-their-packages",
        why="each package owns its config schema: gdpo.config (and every other module of the "
            "application) only assembles them; the storage core's data_storage section and the "
            "memory backend's options are in gdpo.storage, each other section (Option declarations, "
            "ENV_OVERRIDES) in its package's settings module, each backend's with its plugin options",
        roots=("core/gdpo",),
        exempt=("core/gdpo/storage", "core/gdpo/inverter/settings.py", "core/gdpo/prices/settings.py",
                "core/gdpo/coordinator/settings.py", "core/gdpo/web/settings.py"),
        patterns=(r"\bOption\(", r"^ENV_OVERRIDES\b.*="),
        planted='SCHEMA = {"port": Option("int", 8080, "Port")}\n',
    ),
)


def violations(rule: Rule, repo: Path = REPO) -> list[str]:
    """``path:line: text`` of every line of a scanned module that breaks ``rule`` (the files
    of ``rule.pending`` aside)."""
    found: list[str] = []
    pending = {path for path, _ in rule.pending}
    compiled = [re.compile(p) for p in rule.patterns]
    for root in rule.roots:
        for path in sorted((repo / root).rglob("*.py")):
            rel = path.relative_to(repo).as_posix()
            if any(rel == e or rel.startswith(e.rstrip("/") + "/") for e in rule.exempt):
                continue
            if ".venv" in path.parts or "__pycache__" in path.parts or rel in pending:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if any(p.search(line) for p in compiled):
                    found.append(f"{rel}:{n}: {line.strip()}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_layering_rule_holds(rule):
    """No scanned module breaks the rule."""
    found = violations(rule)
    assert not found, f"{rule.name}: {rule.why}; found:\n" + "\n".join(found)


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_each_rule_can_fail(rule, tmp_path):
    """A module planted outside the exempt directories breaks the rule; inside them it does not."""
    outside = tmp_path / rule.roots[0] / "somepkg" / "planted.py"
    outside.parent.mkdir(parents=True)
    outside.write_text(rule.planted, encoding="utf-8")
    assert violations(rule, tmp_path) == [f"{rule.roots[0]}/somepkg/planted.py:1: {rule.planted.strip()}"]
    if rule.exempt:
        outside.unlink()
        inside = tmp_path / rule.exempt[0] / "planted.py"
        inside.parent.mkdir(parents=True, exist_ok=True)
        inside.write_text(rule.planted, encoding="utf-8")
        assert violations(rule, tmp_path) == []


def test_config_module_declares_no_schema(tmp_path):
    """The rule above catches a schema declared in gdpo/config.py itself (an ``Option`` or an
    ``ENV_OVERRIDES`` of its own), and the real gdpo/config.py has none."""
    rule = next(r for r in RULES if r.name == "section-schemas-in-their-packages")
    planted = tmp_path / "core/gdpo/config.py"
    planted.parent.mkdir(parents=True)
    planted.write_text('ENV_OVERRIDES = (("TIMESCALEDB_DSN", ("data_storage", "timescaledb", "dsn"), "str"),)\n'
                       '_X = {"backend": Option("str", "sqlite")}\n', encoding="utf-8")
    assert [v.split(":")[1] for v in violations(rule, tmp_path)] == ["1", "2"]
    assert not [v for v in violations(rule) if v.startswith("core/gdpo/config.py:")]


def test_each_package_owns_its_config_schema():
    """gdpo.config finds every section through the package that declares it: the storage core's
    ``data_storage`` is gdpo.storage.config_schema (with its environment overrides), each other
    section is its package's ``settings`` module (one of ``SECTION_MODULES``)."""
    from gdpo import config
    from gdpo.storage import config_schema

    schemas = config.section_schemas()
    for key, option in config_schema.DATA_STORAGE_SCHEMA.items():
        assert schemas["data_storage"][key] is option
    owners = {name: module for module in config.SECTION_MODULES
              for name in getattr(__import__(module, fromlist=["SECTIONS"]), "SECTIONS", {})}
    assert set(schemas) == {"data_storage"} | set(owners), "a section without a package that declares it"
    for name, module in owners.items():
        assert schemas[name] is getattr(__import__(module, fromlist=["SECTIONS"]), "SECTIONS")[name]
    assert set(config.env_overrides()) >= set(config_schema.ENV_OVERRIDES)


MAX_MODULE_LINES = 600


def test_no_module_is_over_600_lines():
    """Small modules (issue "each part in its own room"): no Python module of the product, its
    backends, scripts or benchmarks is longer than MAX_MODULE_LINES."""
    long = []
    for root in ("core", "backends", "benchmarks", "scripts"):
        for path in sorted((REPO / root).rglob("*.py")):
            if ".venv" in path.parts or "__pycache__" in path.parts:
                continue
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > MAX_MODULE_LINES:
                long.append(f"{path.relative_to(REPO).as_posix()}: {n} lines")
    assert not long, "split these modules:\n" + "\n".join(long)
