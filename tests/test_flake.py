"""The flake gate: the scenario suite, run repeatedly in random orders against fresh
references, never changes an outcome; and the gate itself notices a check that flips."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conformance.flake import FlakeReport
from conformance.verdict import read_results


def test_a_check_whose_outcome_changes_is_reported_as_a_flip():
    report = FlakeReport()
    report.by_check["a"] += ["pass", "pass", "pass"]
    report.by_check["b"] += ["pass", "fail", "pass"]
    assert report.flips == {"b": ["pass", "fail", "pass"]}
    assert report.exit_code == 1
    assert "FLIPPED b" in report.summary()


@pytest.mark.background
@pytest.mark.slow(150)
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
            # Each run's time is its "nothing happens" windows (77 s of checks), and each
            # worker has its own embedded reference. Two workers: the session's other tests
            # keep both cores busy meanwhile (four cost ~9 CPU-s more in engine and reference
            # start-ups), and the orders still differ per run.
            "--workers",
            "2",
            "--reports-dir",
            str(tmp_path),
            "--run-id",
            "flake",
        ],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "no check changed its outcome" in done.stdout
    # The gate compares every scenario check of every run: each run ran the same checks, all
    # passing, and the count it reports is theirs (not a fixed number: the catalogue grows).
    counted = re.search(r"flake gate: 3 runs of (\d+) checks", done.stdout)
    assert counted, done.stdout[-3000:]
    runs = [read_results(tmp_path / f"flake-r{index}" / "results.jsonl") for index in (1, 2, 3)]
    checks = {record["nodeid"] for record in runs[0]}
    assert checks and all(nodeid.startswith("conformance/scenarios/") for nodeid in checks)
    assert all({record["nodeid"] for record in records} == checks for records in runs)
    assert all(record["outcome"] == "pass" for records in runs for record in records)
    assert int(counted.group(1)) == len(checks)
