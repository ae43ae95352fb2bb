"""The generated row encoder turns every datetime into the exact epoch microseconds, on its fast
float path (1970 to 2096) and its exact timedelta path (everything else), and back."""

from __future__ import annotations

import datetime as _dt
import json
import random
import re

import pytest

from gdpo.storage.records import KIND_NAMES
from gdpo.storage.testkit import full_record, minimal_record
from gdpo_sqlite.codec import EPOCH, datetime_to_us, make_batch_encoder, make_row_decoder, make_row_encoder

UTC = _dt.timezone.utc
EDGE_MICROSECONDS = [0, 1, 499_999, 500_000, 500_001, 999_999]


def _instants(seed: int, count: int) -> list[_dt.datetime]:
    """Random instants from 1900 to 2200, half of them near whole seconds (where rounding could slip)."""
    rng = random.Random(seed)
    lo = datetime_to_us(_dt.datetime(1900, 1, 1, tzinfo=UTC))
    hi = datetime_to_us(_dt.datetime(2200, 1, 1, tzinfo=UTC))
    out = []
    for i in range(count):
        us = rng.randrange(lo, hi)
        if i % 2:
            us = us // 1_000_000 * 1_000_000 + rng.choice(EDGE_MICROSECONDS)
        out.append(EPOCH + _dt.timedelta(microseconds=us))
    return out


BOUNDARIES = [EPOCH, EPOCH - _dt.timedelta(microseconds=1), EPOCH + _dt.timedelta(microseconds=1),
              _dt.datetime(2038, 1, 19, 3, 14, 7, 999_999, tzinfo=UTC),
              _dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
              EPOCH + _dt.timedelta(microseconds=3_999_999_999_999_999),
              EPOCH + _dt.timedelta(microseconds=4_000_000_000_000_000),
              _dt.datetime(2096, 10, 2, 7, 6, 39, 999_999, tzinfo=UTC),
              _dt.datetime(1, 1, 1, tzinfo=UTC), _dt.datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]


def test_encoder_timestamps_are_exact_on_both_paths():
    encode = make_row_encoder("energy_data")
    template = full_record("energy_data")
    position = template.FIELDS.index("ts")
    for ts in BOUNDARIES + _instants(7, 200_000):
        record = template.replace(ts=ts)
        assert encode(record)[position] == datetime_to_us(ts), ts


def test_encoder_accepts_other_offsets_as_the_same_instant():
    encode = make_row_encoder("energy_data")
    warsaw_summer = _dt.timezone(_dt.timedelta(hours=2))
    ts = _dt.datetime(2025, 7, 1, 14, 0, 0, 123_456, tzinfo=warsaw_summer)
    record = full_record("energy_data").replace(ts=ts)
    assert encode(record)[0] == datetime_to_us(ts.astimezone(UTC))


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_kind_round_trips_through_encoder_and_decoder(kind):
    record = full_record(kind)
    assert make_row_decoder(kind)(make_row_encoder(kind)(record)) == record


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_batch_encoder_gives_the_rows_of_the_row_encoder(kind):
    full, minimal = full_record(kind), minimal_record(kind)
    time_field = full.SPEC.time_field
    batch = [full, minimal]
    if full.SPEC.field(time_field).type == "datetime":
        batch += [full.replace(**{time_field: ts}) for ts in BOUNDARIES[:3]]
    encode = make_row_encoder(kind)
    rows = [encode(r) for r in batch]
    encode_batch = make_batch_encoder(kind)
    for per in (1, 2, 3, len(batch), len(batch) + 1):
        many, rest = encode_batch(batch, per)
        whole = len(batch) - len(batch) % per
        assert [len(flat) for flat in many] == [per * len(full.FIELDS)] * (whole // per)
        assert [v for flat in many for v in flat] == [v for row in rows[:whole] for v in row]
        assert rest == rows[whole:]
    assert encode_batch([full], 100) == ([], [encode(full)])
    assert encode_batch([], 100) == ([], [])


def test_importing_the_backend_leaves_sqlite3_global_adapters_unchanged():
    """sqlite3 adapters and converters are global to the interpreter: the backend sets none."""
    import subprocess
    import sys

    code = ("import sqlite3; before = (dict(sqlite3.adapters), dict(sqlite3.converters)); "
            "import gdpo_sqlite, gdpo_sqlite.backend, gdpo_sqlite.connection, gdpo_sqlite.codec, gdpo_sqlite.recover; "
            "from gdpo.storage import open_storage; "
            "after = (dict(sqlite3.adapters), dict(sqlite3.converters)); "
            "print('same' if before == after else f'changed: {before} -> {after}')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "same"


async def test_none_is_stored_as_null_without_a_global_adapter(tmp_path):
    import sqlite3

    from gdpo_sqlite.connection import ConnectionSettings, connect_async

    conn = await connect_async(ConnectionSettings(tmp_path / "null.db"))
    try:
        def work(c):
            c.execute("CREATE TABLE t (a REAL, b TEXT)")
            c.executemany("INSERT INTO t VALUES (?, ?)", [(None, None), (1.5, None)])
            return c.execute("SELECT typeof(a), typeof(b) FROM t").fetchall()

        assert await conn.run(work) == [("null", "null"), ("real", "null")]
    finally:
        await conn.close()
    assert (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters
    await conn.close()  # twice is fine


PAYLOADS = [{}, {"grid_frequency": None}, {"a": [1, 2.5, None, "x", True], "b": {"c": "żółw", "d": -0.0}},
            {"big": 10**30, "f": 1e16, "tiny": 5e-324, "s": "\u2028\"\\\n"}, [1, {"x": []}], "text", 3, None, 0.1]


@pytest.mark.parametrize("value", PAYLOADS)
def test_json_text_is_what_the_standard_encoder_writes(value):
    """Compact, unescaped UTF-8, the standard encoder's text; only an exponent is spelled
    without ``+`` and leading zeros (``1e16``, not ``1e+16``), the same number."""
    from gdpo_sqlite.codec import json_to_text

    want = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    got = json_to_text(value)
    assert got == re.sub(r"(\d)e\+?(-?)0*(\d)", r"\1e\2\3", want)
    assert json.loads(got) == json.loads(want)


@pytest.mark.parametrize(("value", "want"), [
    ({1: 2, 3: {4: "x"}}, '{"1":2,"3":{"4":"x"}}'),  # int keys: text keys, as json.dumps writes them
    ({True: 1, None: 2}, '{"true":1,"null":2}'),
    ({"t": (1, 2)}, '{"t":[1,2]}'),  # a tuple is an array, as before
    ({"big": 2**70}, '{"big":1180591620717411303424}'),
])
def test_values_json_spells_differently_are_stored_as_before(value, want):
    from gdpo_sqlite.codec import json_to_text, text_to_json

    assert json_to_text(value, "energy_data", "payload") == want
    assert text_to_json(want) == json.loads(want)


@pytest.mark.parametrize("text", ['{ "a" : [ 1 , 2.5 ] ,\n "b" : "\u017c" }', '\t{}\n', '{"x": NaN}', '[1e400]'])
def test_text_written_by_hand_reads_like_json_loads(text):
    import math

    from gdpo_sqlite.codec import text_to_json

    got, want = text_to_json(text), json.loads(text)
    assert repr(got) == repr(want) or (math.isnan(got["x"]) and math.isnan(want["x"]))


@pytest.mark.parametrize("value", [{"x": float("nan")}, {"x": float("inf")}, {"x": [float("-inf")]}, {"x": object()},
                                   {"x": {1, 2}}, {"x": b"raw"}, {"x": _dt.date(2025, 1, 1)}, {(1, 2): 3},
                                   {"x": __import__("decimal").Decimal("1.10")}])
def test_values_that_are_not_json_name_the_field(value):
    from gdpo.storage import StorageError
    from gdpo_sqlite.codec import json_to_text

    with pytest.raises(StorageError, match=r"energy_data\.payload: not JSON-serialisable"):
        json_to_text(value, "energy_data", "payload")


def test_a_payload_that_contains_itself_is_refused_not_fatal():
    from gdpo.storage import StorageError
    from gdpo_sqlite.codec import json_to_text

    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(StorageError, match="not JSON-serialisable"):
        json_to_text(loop, "energy_data", "payload")
