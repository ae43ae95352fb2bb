"""Under ``CI=true`` a skip is a failure unless it names a declared capability.

A test may skip on a laptop for many reasons (no server, no tool, a backend not built); in
CI each of those would hide a broken part, so only a skip whose reason starts with a
declared prefix (``capability:``, what the conformance kit uses when a backend declares a
capability absent) stays a skip. Every other skip, at collection (``pytest.importorskip``
at module level) or in a test, becomes a failure naming the reason. Loaded by
``tests/conftest.py``.
"""

from __future__ import annotations

import os

import pytest

from gdpo.storage.testkit.suite import CAPABILITY_PREFIX

#: Skip reasons that start with one of these stay skips under CI=true.
DECLARED_PREFIXES = (CAPABILITY_PREFIX,)


def ci_enabled() -> bool:
    """True when the run is under CI (``CI=true``, as ``.ci/run`` sets it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def skip_reason(report) -> str | None:
    """The reason of a skipped report (without pytest's ``Skipped: ``), or None if it did not skip."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return None
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return message.removeprefix("Skipped: ")


def enforce(report) -> None:
    """Turn an undeclared skip into a failure (under CI=true only)."""
    reason = skip_reason(report)
    if reason is None or not ci_enabled() or reason.startswith(DECLARED_PREFIXES):
        return
    report.outcome = "failed"
    report.longrepr = (f"CI=true forbids this skip: {reason!r}. Under CI only skips whose reason starts with "
                       f"{' or '.join(repr(p) for p in DECLARED_PREFIXES)} (a capability the backend declares "
                       f"absent) are allowed: make what the test needs available in CI, or fail instead of skipping.")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Check each phase's report of a test (a skip in setup, in the test or in teardown)."""
    outcome = yield
    enforce(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """Check each collection report (a module that skips on import)."""
    outcome = yield
    enforce(outcome.get_result())
