"""Optional part of the backend protocol: per-source provenance, for backends made of files.

A backend whose records live in separate sources (files of a tree, say) may say, source by
source, what each holds and what a copy should do with it. ``gdpo migrate`` then reads such
a source backend source by source instead of kind by kind, and its report names every
source: which were imported, partly imported (with their bad lines), skipped (deliberately:
derived or cache files) or quarantined (with the reason), and where each record came from.
Nothing else in gdpo depends on it; a backend without it is copied kind by kind.

A backend offers it by implementing the methods of :class:`SourceProvenance` (checked with
``isinstance(backend, SourceProvenance)``; there is no capability flag). Two further parts are
optional on top of it:

* :class:`SourceArchive`: ``archive_sources`` moves the fully imported sources aside after a
  validated run (``gdpo migrate --archive``), ``restore_sources`` moves them back;
* ``source_checks()`` may return a :class:`SourceChecks`: totals a source held besides its
  records (daily summaries of an old system), recomputed from the records and compared.

The ``json_legacy`` backend (``gdpo_json_legacy``) implements all three; see "Writing a
backend" in docs/DATABASE_ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol, runtime_checkable

from gdpo.storage.records import Record

#: what a copy does with a source (``SourceOutcome.disposition``)
DISPOSITIONS = ("import", "partial", "quarantine", "skip")


@dataclass
class SourceOutcome:
    """What one source holds and what a copy does with it.

    path: the source's id as the report shows it (a file backend: its path relative to the
        root of its tree, with forward slashes).
    disposition: ``import`` (every record), ``partial`` (the good records; ``bad_lines`` says
        which were not), ``quarantine`` (nothing: ``reason`` says why), ``skip`` (nothing,
        deliberately: ``reason`` says why).
    label: the source's own name for what it is (a legacy file kind), shown in the report.
    records: the records mapped from it (validated record objects).
    bad_lines: for ``partial``, ``{"line": n, "error": text}`` per line left out.
    notes: remarks for the report (a value that was dropped, a guess that was made).
    ambiguous: ``(kind, second_occurrence)`` per record whose local time was ambiguous.
    document: the parsed document of a skipped source, for :class:`SourceChecks`.
    """

    path: str
    disposition: str = "import"
    label: str | None = None
    reason: str | None = None
    records: list[Record] = field(default_factory=list)
    bad_lines: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ambiguous: list[tuple[str, bool]] = field(default_factory=list)
    document: Any = None

    def quarantine(self, reason: str) -> "SourceOutcome":
        """Mark the whole source as not imported, dropping anything mapped from it."""
        self.disposition, self.reason, self.records, self.ambiguous = "quarantine", reason, [], []
        return self


@runtime_checkable
class SourceChecks(Protocol):
    """Cross-checks of a source backend: totals it held, recomputed from the copied records."""

    def add_outcome(self, outcome: SourceOutcome) -> None:
        """See one source's outcome (before its records)."""

    def add(self, record: Record, source: str) -> None:
        """See one record copied from ``source``."""

    def compare(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(every recomputed total, the ones that differ from the source's), for the report."""


@runtime_checkable
class SourceProvenance(Protocol):
    """A backend read source by source (see the module docstring). Open the backend first."""

    async def list_sources(self) -> list[str]:
        """The ids of its sources in read order (a later source's version of a record wins);
        reads no source."""

    def iter_sources(self) -> AsyncIterator[SourceOutcome]:
        """Each source's outcome, in the order of :meth:`list_sources`, streamed: a few sources
        are held at a time, and every file operation runs off the event loop."""

    def source_checks(self, sources: list[str]) -> SourceChecks | None:
        """The cross-checks for these sources, or None when the backend has none."""


@runtime_checkable
class SourceArchive(Protocol):
    """A source backend that can move fully imported sources aside (``--archive``)."""

    async def archive_sources(self, run_id: str, sources: list[str], report: dict[str, Any]) -> dict[str, Any]:
        """Move ``sources`` aside under ``run_id``, with ``report``; return what the report
        shows of the archive (where it went, how many sources moved). May be called after
        the backend is closed."""

    async def restore_sources(self, run_id: str) -> dict[str, Any]:
        """Move the sources archived under ``run_id`` back (``gdpo migrate --restore-archive``);
        return ``{"run_id", "root", "restored", "in_place", "conflicts", "missing",
        "checksum_mismatch"}`` (lists of source ids, ``root``: where they went back to)."""
