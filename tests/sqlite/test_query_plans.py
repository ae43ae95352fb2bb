"""EXPLAIN QUERY PLAN: range read, latest and aggregate of every kind use an index, never a full scan."""

from __future__ import annotations

import datetime as _dt
import re
import sqlite3

import pytest

from gdpo.storage.aggregate import make_spec
from gdpo.storage.records import KIND_NAMES, record_class
from gdpo.storage.testkit import full_record
from gdpo_sqlite.codec import bound_to_column
from gdpo_sqlite.queries import aggregate_query, needs_data_range, time_range_sql
from gdpo_sqlite.schema import table_sql

START = _dt.datetime(2025, 11, 1, tzinfo=_dt.timezone.utc)
END = _dt.datetime(2025, 12, 1, tzinfo=_dt.timezone.utc)


@pytest.fixture
async def conn(open_sqlite, db_path):
    async with open_sqlite() as storage:  # a real database made by the migrations, with some rows
        for kind in KIND_NAMES:
            await storage.write(kind, [full_record(kind, i) for i in range(30)])
        await storage.maintenance()  # ANALYZE: plans as they are in a long-running installation
    c = sqlite3.connect(db_path)
    yield c
    c.close()


def plan(conn, sql, params) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


def assert_indexed(kind: str, steps: list[str]) -> None:
    """Every step touching the kind's table is an index search; none scans it."""
    touching = [s for s in steps if re.search(rf"\b{kind}\b|\bUSING\b.*\b{kind}", s) or re.match(r"(SCAN|SEARCH) k\b", s)]
    assert touching, steps
    for step in touching:
        assert not step.startswith("SCAN"), f"{kind}: full scan in plan {steps}"
        assert step.startswith("SEARCH"), f"{kind}: {step!r} in {steps}"


def _bounds(kind):
    return bound_to_column(kind, START.date() if kind == "daily_stats" else START), \
        bound_to_column(kind, END.date() if kind == "daily_stats" else END)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_range_read_uses_an_index(conn, kind):
    lo, hi = _bounds(kind)
    for sql in (table_sql(kind).select_range, table_sql(kind).select_range_desc):
        steps = plan(conn, sql, (lo, hi, 100))
        assert_indexed(kind, steps)
        assert not any("TEMP B-TREE" in s for s in steps), f"{kind}: range read sorts: {steps}"


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_latest_uses_an_index(conn, kind):
    steps = plan(conn, table_sql(kind).latest, ())
    assert_indexed(kind, steps)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_delete_chunk_uses_an_index(conn, kind):
    lo, _ = _bounds(kind)
    assert_indexed(kind, plan(conn, table_sql(kind).delete_chunk, (lo, lo, 10)))


@pytest.mark.parametrize("every", ["15m", "1h", "1d", "1mo"])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_aggregate_uses_an_index(conn, kind, every):
    numeric = record_class(kind).SPEC.numeric_fields
    fields = {numeric[0]: ["avg", "min", "max", "sum", "count", "first", "last"]}
    spec = make_spec(kind, START, END, every, fields)
    first = last = None
    if needs_data_range(spec):
        (first, last), = conn.execute(time_range_sql(kind), _bounds(kind)).fetchall()
        assert first is not None, f"{kind}: no rows in the tested range"
        assert_indexed(kind, plan(conn, time_range_sql(kind), _bounds(kind)))
    sql, param_sets = aggregate_query(spec, first, last)
    steps = plan(conn, sql, param_sets[0])
    assert_indexed(kind, steps)


def test_the_plan_check_catches_a_full_scan(conn):
    steps = plan(conn, "SELECT * FROM energy_data WHERE pv_power_w > ?", (1.0,))
    with pytest.raises(AssertionError, match="full scan"):
        assert_indexed("energy_data", steps)


def test_no_index_repeats_a_primary_key(conn):
    """Secondary indexes start with the time axis; none duplicates a table's primary key."""
    for (name, table) in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
                                      "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"):
        cols = [r[2] for r in conn.execute(f"PRAGMA index_info({name})")]
        t = table_sql(table)
        assert cols[0] == t.time and tuple(cols) != t.key, (name, cols)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                            "('energy_data', 'system_state', 'daily_stats', 'price_forecasts', 'pv_forecasts') "
                            "AND sql IS NOT NULL").fetchall()
