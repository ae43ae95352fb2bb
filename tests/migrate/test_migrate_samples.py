"""The sample tree migrates with every manifest count and spot check met, into every target."""

from __future__ import annotations


from gdpo.migrate.runner import MigrationOptions, migrate

from tests.migrate.migrate_helpers import field_value, read_everything, values_equal


def _matches_key(record, key: dict) -> bool:
    return all(values_equal(field_value(record, k), v) for k, v in key.items())


async def test_sample_tree_counts_spot_checks_and_report(sample_tree, manifest, target_spec):
    report = await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=target_spec))
    stored = await read_everything(target_spec)

    for kind, expected in manifest["expected_counts"].items():
        assert len(stored[kind]) == expected, kind
        assert report["per_kind"][kind]["in_target"] == expected, kind
        assert report["per_kind"][kind]["written"] == expected, kind
        assert report["per_kind"][kind]["read"] == manifest["records_in_files_by_kind"][kind], kind

    for check in manifest["spot_checks"]:
        hits = [r for r in stored[check["kind"]] if _matches_key(r, check["key"])]
        assert len(hits) == 1, f"{check['kind']} {check['key']}: {len(hits)} records match"
        for path, want in check["expect"].items():
            got = field_value(hits[0], path)
            assert values_equal(got, want), f"{check['kind']} {check['key']} {path}: {got!r} != {want!r} ({check['note']})"

    quarantined = {q["path"]: q["reason"] for q in report["quarantined"]}
    assert set(quarantined) == set(manifest["quarantined_files"])
    for path in manifest["quarantined_files"]:
        expected_cause = manifest["reasons"][path]
        got = quarantined[path]
        if expected_cause.startswith("empty"):
            assert "empty" in got
        elif expected_cause.startswith("truncated"):
            assert "truncated" in got and "start_time" in got
        else:
            assert "matches no kind" in got
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped == {p: manifest["reasons"][p] for p in manifest["skipped_files"]}
    assert [p["path"] for p in report["partially_imported"]] == [p if isinstance(p, str) else p["path"]
                                                                  for p in manifest["partially_bad_files"]]
    assert report["files"]["total"] == manifest["total_files"]
    assert report["checksums_match"] is True
    assert report["exit_code"] == 1  # some files were quarantined
    assert report["dst_ambiguous_records"] == manifest["dst_ambiguous_records"]

    # the manifest's legacy discrepancies are in the report, with the same numbers
    for want in manifest["legacy_discrepancies"]:
        (got,) = [d for d in report["discrepancies"] if d["date"] == want["date"] and d["kind"] == want["kind"]]
        for k, v in want["legacy"].items():
            assert values_equal(got["legacy"][k], v), k
        for k, v in want["recomputed"].items():
            assert values_equal(got["recomputed"][k], v), k
    # the derived files were compared with totals recomputed from the imported records
    kinds = {row["kind"].split(" ")[0] for row in report["derived_totals"]}
    assert {"F2", "F3", "K", "D2"} <= kinds


async def test_second_import_changes_nothing(sample_tree, manifest, target_spec):
    first = await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=target_spec))
    before = await read_everything(target_spec)
    second = await migrate(MigrationOptions(source=f"json_legacy:{sample_tree}", target=target_spec))
    after = await read_everything(target_spec)
    assert {k: [r.to_dict() for r in v] for k, v in before.items()} == {k: [r.to_dict() for r in v] for k, v in after.items()}
    for kind, expected in manifest["expected_counts"].items():
        assert second["per_kind"][kind]["written"] == 0, kind
        assert second["per_kind"][kind]["already_present"] == expected, kind
    assert second["checksums"] == first["checksums"]
