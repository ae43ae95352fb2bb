"""The migration report: its JSON form, the exit status it implies, and the readable summary.

Report keys: ``run_id``, ``source``, ``target``, ``dry_run``, ``files`` (counts by
disposition), ``per_kind`` (kind -> read, duplicates, written, already_present, in_target,
outside_range, distinct), ``quarantined`` (path, reason), ``partially_imported`` (path,
bad_lines), ``skipped`` (path, reason), ``notes``, ``discrepancies`` and ``derived_totals``,
``dst_ambiguous_records``, ``checksums`` (per kind) and ``checksums_match``, ``rollups``
(store key -> read, written, already_present, in_target, match: the hourly and daily
rollups of ``energy_data``, counted in ``checksums_match``), ``archive``, ``exit_code``.
"""

from __future__ import annotations

import json
from typing import Any

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2


def exit_code_for(report: dict[str, Any]) -> int:
    """0 when every recognised file was imported (and validated), 1 when some file was
    quarantined or partly imported, or the target does not hold what was migrated."""
    if report["quarantined"] or report["partially_imported"]:
        return EXIT_INCOMPLETE
    if report.get("checksums_match") is False:
        return EXIT_INCOMPLETE
    return EXIT_OK


def report_json(report: dict[str, Any]) -> str:
    """The report as indented JSON text."""
    return json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"


def format_summary(report: dict[str, Any]) -> str:
    """A readable summary of the report for the terminal."""
    lines = []
    mode = "DRY RUN (nothing written)" if report["dry_run"] else "migration"
    lines.append(f"gdpo {mode} {report['run_id']}: {report['source']} -> {report['target']}")
    files = report.get("files") or {}
    if files:
        lines.append("files: " + ", ".join(f"{n} {k}" for k, n in sorted(files.items()) if k != "total")
                     + f" (of {files.get('total', 0)})")
    verb = "would write" if report["dry_run"] else "written"
    lines.append(f"{'kind':<26}{'read':>8}{'dupes':>8}{verb:>13}{'present':>9}{'in target':>11}")
    total_written = 0
    for kind, c in report["per_kind"].items():
        if not (c["read"] or c["in_target"]):
            continue
        total_written += c["written"]
        in_target = "-" if c["in_target"] is None else c["in_target"]
        lines.append(f"{kind:<26}{c['read']:>8}{c['duplicates']:>8}{c['written']:>13}{c['already_present']:>9}"
                     f"{in_target:>11}")
    for key, c in (report.get("rollups") or {}).items():
        total_written += c["written"]
        in_target = "-" if c["in_target"] is None else c["in_target"]
        label = f"{key.split('@')[0]} {'daily' if '@' in key else 'hourly'} rollups"
        lines.append(f"{label:<26}{c['read']:>8}{0:>8}{c['written']:>13}{c['already_present']:>9}{in_target:>11}")
    if total_written == 0 and not report["dry_run"]:
        lines.append("nothing new to write: the target already holds every record")
    for q in report["quarantined"]:
        lines.append(f"QUARANTINED {q['path']}: {q['reason']}")
    for p in report["partially_imported"]:
        bad = ", ".join(f"line {b['line']} ({b['reason']})" for b in p["bad_lines"])
        lines.append(f"PARTIAL {p['path']}: {p['records']} records imported; bad: {bad}")
    for s in report["skipped"]:
        lines.append(f"skipped {s['path']}: {s['reason']}")
    for d in report["discrepancies"]:
        diffs = ", ".join(f"{k} legacy {v['legacy']:g} vs recomputed {v['recomputed']:g}"
                          for k, v in d["differences"].items())
        where = d.get("date") or d.get("month") or ""
        lines.append(f"discrepancy [{d['kind']}] {where}: {diffs}")
    amb = report.get("dst_ambiguous_records") or {}
    if amb.get("first_occurrence") or amb.get("second_occurrence_by_file_order"):
        lines.append(f"DST night: {amb['first_occurrence']} ambiguous local times taken as the first occurrence, "
                     f"{amb['second_occurrence_by_file_order']} as the second (file order)")
    match = report.get("checksums_match")
    if match is None:
        lines.append("validation: not run (dry run)" if report["dry_run"] else "validation: not run")
    else:
        lines.append("validation: checksums match" if match else "validation: FAILED: the target differs (see checksums)")
    if report.get("archive"):
        lines.append(f"archived {len(report['archive']['files'])} files to {report['archive']['directory']}")
    lines.append(f"exit status {report['exit_code']}")
    return "\n".join(lines)
