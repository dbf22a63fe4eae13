"""The flake gate: the scenario suite, run repeatedly in random orders against fresh
references, never changes an outcome; and the gate itself notices a check that flips."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conformance.flake import FlakeReport


def test_a_check_whose_outcome_changes_is_reported_as_a_flip():
    report = FlakeReport()
    report.by_check["a"] += ["pass", "pass", "pass"]
    report.by_check["b"] += ["pass", "fail", "pass"]
    assert report.flips == {"b": ["pass", "fail", "pass"]}
    assert report.exit_code == 1
    assert "FLIPPED b" in report.summary()


@pytest.mark.timeout(600)
def test_the_scenario_suite_does_not_flip_against_the_reference(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--phase",
            "scenarios",
            "--repeat",
            "3",
            "--reports-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "no check changed its outcome" in done.stdout
    assert "flake gate: 3 runs of 40 checks" in done.stdout
