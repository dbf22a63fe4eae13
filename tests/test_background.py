"""tests/background.py: a test marked `background` runs in its own pytest process under xdist,
and its stand-in reports that process's outcome, a failure as a failure and a skip as a skip.
A stand-in that passed what its process failed would hide a red test of this suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SAMPLE = """
import os
import pytest

@pytest.mark.background
def test_passes_in_its_own_process():
    assert os.environ["RTKC_TESTS_IN_BACKGROUND"] == "1"

@pytest.mark.background
def test_fails_in_its_own_process():
    assert 1 + 1 == 3, "arithmetic broke in the background"

@pytest.mark.background
def test_skips_in_its_own_process():
    pytest.skip("nothing to do here")

def test_in_place():
    assert "RTKC_TESTS_IN_BACKGROUND" not in os.environ
"""


@pytest.mark.slow(10)
def test_a_background_test_reports_its_own_process_outcome(pytester: pytest.Pytester, monkeypatch):
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makeconftest('pytest_plugins = ["tests.background"]\n')
    pytester.makeini("[pytest]\nmarkers =\n    background: in its own process\n")
    pytester.makepyfile(test_sample=SAMPLE)
    plugins = ("--disable-plugin-autoload", "-p", "xdist.plugin", "-p", "pytest_timeout")
    result = pytester.runpytest_subprocess(*plugins, "-n", "2", "-rA", timeout=120)
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*arithmetic broke in the background*"])
    result.stdout.fnmatch_lines(["*nothing to do here*"])
    # Each of the three ran in its own process: its folder holds that process's report.
    assert len(list(pytester.path.glob("runpytest-0/shared-runs/test-*/junit.xml"))) == 3
