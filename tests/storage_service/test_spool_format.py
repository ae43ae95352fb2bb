"""The spool and quarantine line format across the move to msgspec: lines written by the former
encoder (``json.dumps``, ISO datetimes with ``+00:00``) still replay, and the lines written now
still read with the former decoder (``json.loads`` and ``make_record``)."""

from __future__ import annotations

import datetime as _dt
import json

import pytest

from gdpo.storage.quarantine import append_quarantine, read_quarantine
from gdpo.storage.records import KIND_NAMES, UTC, make_record, record_class
from gdpo.storage.spool import Spool, check_encodable, decode_batch, encode_batch
from gdpo.storage.testkit.samples import energy_series, full_record

T0 = _dt.datetime(2025, 11, 17, tzinfo=UTC)


def former_line(kind, records) -> bytes:
    """A spool line exactly as the json-module encoder wrote it."""
    def value(v):
        return v.isoformat() if isinstance(v, (_dt.datetime, _dt.date)) else v

    fields = record_class(kind).FIELDS
    line = {"kind": kind, "n": len(records), "at": _dt.datetime.now(UTC).isoformat(),
            "records": [[value(r.to_dict()[f]) for f in fields] for r in records]}
    return (json.dumps(line, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode("utf-8")


def former_decode(line: bytes):
    """The json-module decoder of a spool line."""
    data = json.loads(line)
    fields = record_class(data["kind"]).FIELDS
    return data["kind"], [make_record(data["kind"], dict(zip(fields, values))) for values in data["records"]]


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_a_segment_written_by_the_former_encoder_replays(tmp_path, kind):
    spool = Spool(tmp_path / "sp")
    recs = [full_record(kind, i) for i in range(3)]
    spool._ensure_dir()
    (tmp_path / "sp" / "000000000001.ndjson").write_bytes(former_line(kind, recs) + former_line(kind, recs[:1]))
    (sealed,) = spool.seal()
    batches = spool.read_segment(sealed)
    assert [b.kind for b in batches] == [kind, kind]
    assert [r.to_dict() for r in batches[0].records] == [r.to_dict() for r in recs]
    assert [r.to_dict() for r in batches[1].records] == [recs[0].to_dict()]


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_a_line_written_now_reads_with_the_former_decoder(kind):
    recs = [full_record(kind, i) for i in range(3)]
    line = encode_batch(kind, recs)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    got_kind, got = former_decode(line)
    assert got_kind == kind and [r.to_dict() for r in got] == [r.to_dict() for r in recs]
    assert json.loads(line)["n"] == 3


@pytest.mark.parametrize(("payload", "stored"), [
    ({1: "a", 2: {3: 4}}, {"1": "a", "2": {"3": 4}}),  # int keys: text keys, as before
    ({True: 1, None: 2}, {"true": 1, "null": 2}),  # keys msgspec refuses: the json module's spelling
    ({"t": (1, 2), "ż": "ł"}, {"t": [1, 2], "ż": "ł"}),
])
def test_payload_keys_and_tuples_spool_as_before(payload, stored):
    (rec,) = energy_series(T0, 1, step_s=60)
    rec = rec.replace(payload=payload)
    check_encodable("energy_data", [rec])
    line = encode_batch("energy_data", [rec])
    assert "ł".encode() in line or b"true" in line or b'"1"' in line
    assert decode_batch(line)[1][0].payload == stored
    assert former_decode(line)[1][0].payload == stored


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1, 2}, b"raw", _dt.date(2025, 1, 1)])
def test_a_payload_that_is_not_json_is_refused_before_the_spool(bad):
    (rec,) = energy_series(T0, 1, step_s=60)
    with pytest.raises((TypeError, ValueError)):
        check_encodable("energy_data", [rec.replace(payload={"x": bad})])


def test_a_damaged_line_is_a_value_error():
    with pytest.raises(ValueError):
        decode_batch(b'{"kind":"energy_data","records":[[1,2]')


def test_quarantine_reads_former_lines_and_writes_what_the_spool_decodes(tmp_path):
    recs = energy_series(T0, 2, step_s=60)
    former = json.dumps({"batch": "old", "backend": "sqlite", "kind": "energy_data", "count": 1, "at": "x",
                         "error": "e", "records": [[float("nan")]]}, default=str) + "\n"
    (tmp_path / "quarantine.ndjson").write_text(former, encoding="utf-8")
    append_quarantine(tmp_path, batch_id="b1", backend="sqlite", kind="energy_data",
                      records=[recs[0].replace(payload={"x": {1, 2}, True: 1})], error="TypeError: x")
    append_quarantine(tmp_path, batch_id="b2", backend="sqlite", kind="energy_data", records=recs, error="e")
    old, odd, new = read_quarantine(tmp_path)
    assert old["batch"] == "old" and old["records"][0][0] != old["records"][0][0]  # NaN read back
    assert odd["batch"] == "b1" and odd["count"] == 1
    kind, got = decode_batch(json.dumps({"kind": new["kind"], "records": new["records"]}).encode())
    assert kind == "energy_data" and [r.to_dict() for r in got] == [r.to_dict() for r in recs]
