#!/usr/bin/env python3
"""Is generated code worth it? Each per-kind function built from source text against the best
plain-Python equivalent without generated code, same inputs, same results, same run.

    python benchmarks/codegen_bench.py [--rows 20000] [--repeat 7]

1. ``gdpo.storage.records`` has no generated code any more: its line compares the msgspec
   conversion of a batch of mappings (``make_records``) with the generic Python rules it falls
   back to (``Kind.validate_generic``), on mappings of ``energy_data`` as ``Storage.write``
   sees them (shown for the record; the 20 % rule does not apply to it).
2. ``gdpo_sqlite.codec``: the generated batch encoder (records to rows, the ingest path) and
   row decoder (rows to records, every read) against closures over a per-field converter
   list (the form without generated code).

Times are the median of ``--repeat`` runs per side, interleaved; speed-up = plain / generated.
The rule (issue 19): generated code stays only where it is worth more than 20 % (>= 1.20).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import random
import statistics
import time
from itertools import chain
from typing import Any, Callable

from gdpo.storage.records import UTC, EnergyData, Record, make_records, record_class
from gdpo_sqlite import codec
from gdpo_sqlite.schema import table_sql

THRESHOLD = 1.20


def _mappings(n: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    t0 = _dt.datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        out.append({"ts": t0 + _dt.timedelta(minutes=i), "pv_power_w": rng.uniform(0, 9000),
                    "house_consumption_w": rng.uniform(200, 4000), "grid_power_w": rng.uniform(-8000, 8000),
                    "battery_power_w": rng.uniform(-5000, 5000), "battery_soc_pct": rng.uniform(5, 100),
                    "price_pln_kwh": rng.uniform(-0.2, 1.5), "grid_import_total_kwh": 1000.0 + i * 0.01})
    return out


def plain_encoder(kind: str) -> Callable[[list[Record], int], tuple[list[list], list[tuple]]]:
    """Records to the ingest parameters (flat lists of ``per`` rows, the rows left over) without
    generated code: one converter (or None) per field."""
    conv: dict[str, Callable[[Any], Any]] = {
        "datetime": codec.datetime_to_us, "date": codec.date_to_text, "bool": int,
        "json": lambda v, _k=kind: codec.json_to_text(v, _k)}
    convs = [conv.get(f.type) for f in record_class(kind).SPEC.fields]

    def encode_batch(records: list[Record], per: int) -> tuple[list[list], list[tuple]]:
        rows = [tuple(v if c is None or v is None else c(v) for v, c in zip(r.as_tuple(), convs)) for r in records]
        whole = len(rows) - len(rows) % per
        return [list(chain.from_iterable(rows[i:i + per])) for i in range(0, whole, per)], rows[whole:]

    return encode_batch


def plain_decoder(kind: str) -> Callable[[tuple], Record]:
    """Rows to records without generated code."""
    conv: dict[str, Callable[[Any], Any]] = {
        "datetime": codec.us_to_datetime, "date": _dt.date.fromisoformat, "bool": bool, "json": codec.text_to_json}
    cls = record_class(kind)
    convs = [conv.get(f.type) for f in cls.SPEC.fields]

    def decode(row: tuple) -> Record:
        return cls.from_trusted([v if c is None or v is None else c(v) for v, c in zip(row, convs)])

    return decode


def _time(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def compare(name: str, generated: Callable[[], Any], plain: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """Median seconds of each side (interleaved runs) and the speed-up of the generated one."""
    assert generated() == plain(), f"{name}: the two sides give different results"
    g, p = [], []
    for _ in range(repeat):
        g.append(_time(generated))
        p.append(_time(plain))
    gm, pm = statistics.median(g), statistics.median(p)
    return {"name": name, "generated_s": gm, "plain_s": pm, "speedup": pm / gm}


def main() -> None:
    """Run the comparisons and print one line each, with the verdict against the 20 % rule."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    maps = _mappings(args.rows)
    recs = make_records("energy_data", maps)
    enc, plain_enc = codec.make_batch_encoder("energy_data"), plain_encoder("energy_data")
    per = table_sql("energy_data").rows_per_upsert
    rows = [codec.make_row_encoder("energy_data")(r) for r in recs]
    dec, plain_dec = codec.make_row_decoder("energy_data"), plain_decoder("energy_data")
    results = [
        compare("records: msgspec vs generic rules", lambda: make_records("energy_data", maps),
                lambda: [EnergyData.validate_generic(m) for m in maps], args.repeat),
        compare("sqlite codec: encode a batch of records", lambda: enc(recs, per), lambda: plain_enc(recs, per),
                args.repeat),
        compare("sqlite codec: decode rows into records", lambda: list(map(dec, rows)),
                lambda: list(map(plain_dec, rows)), args.repeat),
    ]
    print(f"{args.rows:,} energy_data records, median of {args.repeat}; speed-up = plain / generated")
    for r in results:
        verdict = ("not generated code" if r["name"].startswith("records")
                   else "keep" if r["speedup"] >= THRESHOLD else "remove")
        print(f"{r['name']:<45} generated {r['generated_s'] * 1e3:8.2f} ms  plain {r['plain_s'] * 1e3:8.2f} ms  "
              f"speed-up {r['speedup']:.2f}  ({verdict}; threshold {THRESHOLD:.2f})")


if __name__ == "__main__":
    main()
