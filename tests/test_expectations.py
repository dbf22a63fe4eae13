"""Expectation files (--expect): known failures by requirement ID. An expected failure that
happens does not fail the run; one that passes (stale) or has expired does; a certificate is
never issued while a MUST is only expected to fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from conformance import catalogue
from conformance.errors import ConfigError
from conformance.expectations import Expectation, Expectations, load, mark, problems
from conformance.reports import certificate
from conformance.reports.stream import RunMeta, build
from conformance.verdict import aggregate, exit_code

TODAY = date(2026, 6, 1)


def write(tmp_path: Path, body: str, name: str = "expect.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def record(rid: str, outcome: str) -> dict:
    return {
        "nodeid": f"conformance/scenarios/test_x.py::test_{rid}",
        "requirements": [rid],
        "outcome": outcome,
        "message": "got 'left'" if outcome != "pass" else "",
    }


def expecting(*entries: Expectation) -> Expectations:
    return Expectations(Path("acme.toml"), "acme", {e.requirement: e for e in entries})


# -- the file -----------------------------------------------------------------------------------


def test_a_file_lists_known_failures_with_reasons_and_expiry(tmp_path: Path):
    path = write(
        tmp_path,
        'implementation = "acme 2.3"\n'
        '[[expected]]\nrequirement = "END-07"\nreason = "double end (ACME-1)"\n'
        "expires = 2027-01-31\n"
        '[[expected]]\nrequirement = "WH-04"\nreason = "no retries yet"\n',
    )
    loaded = load(path, catalogue.load())
    assert loaded.implementation == "acme 2.3"
    assert loaded.entries["END-07"] == Expectation("END-07", "double end (ACME-1)", date(2027, 1, 31))
    assert loaded.entries["WH-04"].expires is None


def test_json_files_work_too(tmp_path: Path):
    entry = {"requirement": "END-02", "reason": "r", "expires": "2027-01-01"}
    path = write(tmp_path, json.dumps({"expected": [entry]}), "expect.json")
    assert load(path, catalogue.load()).entries["END-02"].expires == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('[[expected]]\nrequirement = "END-99"\nreason = "r"\n', "not in the catalogue"),
        ('[[expected]]\nrequirement = "END-02"\n', "a reason is required"),
        ('[[expected]]\nrequirement = "END-02"\nreason = "  "\n', "a reason is required"),
        ('[[expected]]\nrequirement = "END-02"\nreason = "r"\nexpires = "soon"\n', "expires must be a date"),
        ('[[expected]]\nrequirement = "END-02"\nreason = "r"\n' * 2, "listed twice"),
        ('[[expected]]\nrequirement = "END-02"\nreason = "r"\nowner = "me"\n', "unknown key"),
        ("expected = [", "cannot parse"),
    ],
    ids=["unknown-id", "no-reason", "blank-reason", "bad-date", "duplicate", "unknown-key", "garbage"],
)
def test_a_wrong_file_is_a_usage_error(tmp_path: Path, body: str, says: str):
    with pytest.raises(ConfigError, match=says):
        load(write(tmp_path, body), catalogue.load())


# -- what entries do --------------------------------------------------------------------------------


def verdicts_for(records: list[dict], expectations: Expectations) -> tuple[list, list[str]]:
    marked = mark(records, expectations, TODAY)
    verdicts = aggregate(catalogue.load(), ["api", "session"], marked, {r["requirements"][0] for r in records})
    return verdicts, problems(verdicts, expectations, TODAY)


def test_an_expected_failure_that_happens_does_not_fail_the_run():
    verdicts, found = verdicts_for(
        [record("END-02", "fail"), record("END-06", "pass")],
        expecting(Expectation("END-02", "known", date(2026, 12, 31))),
    )
    by_id = {v.requirement.id: v for v in verdicts}
    assert by_id["END-02"].outcome == "expected_failure" and "expected: known" in by_id["END-02"].message
    assert found == [] and exit_code(verdicts, found) == 0


def test_an_expected_failure_that_passes_is_stale_and_fails_the_run():
    verdicts, found = verdicts_for([record("END-02", "pass")], expecting(Expectation("END-02", "known")))
    assert len(found) == 1 and "expected to fail but passed" in found[0] and "acme.toml" in found[0]
    assert exit_code(verdicts, found) == 1


def test_an_expired_entry_fails_the_run_and_hides_nothing():
    verdicts, found = verdicts_for(
        [record("END-02", "fail")], expecting(Expectation("END-02", "known", date(2026, 5, 31)))
    )
    assert verdicts[0].outcome == "fail"  # no longer excused
    assert len(found) == 1 and "expired on 2026-05-31" in found[0]
    assert exit_code(verdicts, found) == 1


def test_an_entry_does_not_turn_a_suite_error_into_anything_else():
    verdicts, found = verdicts_for([record("END-02", "error")], expecting(Expectation("END-02", "known")))
    assert verdicts[0].outcome == "error" and found == [] and exit_code(verdicts, found) == 2


def test_a_check_of_two_requirements_is_excused_only_if_both_are_expected():
    both = {**record("END-02", "fail"), "requirements": ["END-02", "END-03"]}
    marked = mark([both], expecting(Expectation("END-02", "known")), TODAY)
    assert marked[0]["outcome"] == "fail" and marked[0]["observed"] == "fail"


def test_no_certificate_while_a_must_is_only_expected_to_fail(tmp_path: Path):
    cat = catalogue.load()
    # PERM-04: a MUST of the api profile (END-06 used to be one; it is a SHOULD since catalogue 2.0)
    assert cat["PERM-04"].level == "MUST"
    records = [record(r.id, "fail" if r.id == "PERM-04" else "pass") for r in cat.for_profiles(["api"])]
    verdicts, found = verdicts_for(records, expecting(Expectation("PERM-04", "known")))
    assert exit_code(verdicts, found) == 0
    meta = RunMeta(
        run_id="r",
        started_at="",
        finished_at="",
        seconds=0,
        suite_version="",
        catalogue_version="",
        openapi_sha256="",
        target="t",
        profiles=["api"],
        requirements=[],
        phases=["scenarios"],
        available_phases=["scenarios"],
        faults=[],
        config={},
        exit_code=0,
    )
    run = build(tmp_path, meta, records, [v for v in verdicts if v.requirement.profile == "api"], found)
    assert certificate.refusal(run, cat) == "MUST PERM-04 is only expected to fail, not passed"


# -- end to end ------------------------------------------------------------------------------------


def run(tmp_path: Path, expect: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--reports-dir",
            str(tmp_path / "reports"),
            "--run-id",
            "x",
            "--workers",
            "1",
            "--expect",
            str(expect),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
        check=False,
    )


SCENARIOS = ("--phase", "scenarios")


def verdict_line(stdout: str, rid: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(rid))


# Two real runs prove the wiring (the runner loads the file, marks the records, counts its
# problems in the exit code, prints and publishes them); what each kind of entry does is judged
# above on records. Both runs select END-02's scenario alone (the fault fails it) and END-06.


def test_a_run_with_the_failure_expected_passes_without_a_certificate(tmp_path: Path):
    expect = write(
        tmp_path, '[[expected]]\nrequirement = "END-02"\nreason = "ACME-1: says left"\nexpires = 2999-12-31\n'
    )
    done = run(tmp_path, expect, "--reference-fault", "ended_says_left", "--requirement", "END-02", *SCENARIOS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "xfail" in verdict_line(done.stdout, "END-02") and "ACME-1: says left" in done.stdout
    run_dir = tmp_path / "reports" / "x"
    assert not (run_dir / "certificate.json").exists()
    results = json.loads((run_dir / "results.json").read_text())
    check = results["checks"][0]
    assert (check["outcome"], check["observed"]) == ("expected_failure", "fail")
    assert results["requirements"][0]["expectation"]["reason"] == "ACME-1: says left"


def test_a_run_with_a_stale_and_an_expired_entry_fails_naming_both(tmp_path: Path):
    """END-06 passes although expected to fail (stale); END-02's entry has expired, so its
    failure counts again. Each alone fails the run (see the record-level tests above)."""
    expect = write(
        tmp_path,
        '[[expected]]\nrequirement = "END-06"\nreason = "ACME-2"\n'
        '[[expected]]\nrequirement = "END-02"\nreason = "ACME-1"\nexpires = 2020-01-01\n',
    )
    selection = ("--requirement", "END-02", "--requirement", "END-06", *SCENARIOS)
    done = run(tmp_path, expect, "--reference-fault", "ended_says_left", *selection)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "expected to fail but passed: remove the stale entry for END-06" in done.stdout
    assert "expectation expired on 2020-01-01" in verdict_line(done.stdout, "END-02")
    assert "FAIL" in verdict_line(done.stdout, "END-02")
    page = (tmp_path / "reports" / "x" / "report.html").read_text()
    assert "Expectation file problems" in page and "stale entry for END-06" in page


def test_a_broken_expectation_file_stops_the_run_before_it_starts(tmp_path: Path):
    expect = write(tmp_path, '[[expected]]\nrequirement = "NOPE-1"\nreason = "x"\n')
    done = run(tmp_path, expect)
    assert done.returncode == 2 and "NOPE-1" in done.stderr
    assert not (tmp_path / "reports").exists()
