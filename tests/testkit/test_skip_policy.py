"""The CI skip rule: under CI=true a skip fails unless its reason is a declared capability."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

TESTS = '''
import pytest

from gdpo.storage.testkit import skip_capability


def test_capability_skip():
    skip_capability("backend declares capabilities.delete = False")


def test_plain_skip():
    pytest.skip("no server here")


@pytest.mark.skipif(True, reason="tool not installed")
def test_skipif_mark():
    pass


@pytest.fixture
def needs_server():
    pytest.skip("fixture found no server")


def test_fixture_skip(needs_server):
    pass


@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False


def test_passes():
    pass
'''


@pytest.fixture
def project(pytester):
    """A test project loading the skip policy plugin."""
    pytester.syspathinsert(REPO)
    pytester.makeini(INI)
    pytester.makepyfile(test_skips=TESTS)
    return pytester


def _run(pytester, *args):
    return pytester.runpytest_inprocess("-p", "tests.testkit.skip_policy", "-p", "no:cacheprovider", "-rA", *args)


def test_without_ci_every_skip_stays_a_skip(project, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = _run(project)
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)


def test_under_ci_only_declared_capabilities_skip(project, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = _run(project)
    result.assert_outcomes(passed=1, skipped=1, xfailed=1, failed=1, errors=2)  # a skip in setup fails as an error
    out = result.stdout.str()
    assert "SKIPPED" in out and "capability: backend declares capabilities.delete = False" in out
    for reason in ("no server here", "tool not installed", "fixture found no server"):
        assert f"CI=true forbids this skip: '{reason}'" in out


def test_under_ci_a_module_skip_on_import_fails(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.syspathinsert(REPO)
    pytester.makeini(INI)
    pytester.makepyfile(test_missing='import pytest\npytest.importorskip("no_such_module_here")\n\n'
                                     'def test_never():\n    pass\n')
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    assert "CI=true forbids this skip" in result.stdout.str()
    assert "no_such_module_here" in result.stdout.str()
