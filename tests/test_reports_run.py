"""`conformance run` end to end: every report a run writes, against the reference and
against a fault, plus --list, --rerun-failed and comparisons with an earlier run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conformance.reports.stream import sha256_of
from conformance.verdict import read_results

if TYPE_CHECKING:
    from tests.conftest import Ran


def conformance(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ},
        check=False,
    )


# The clean and the faulty run are the session's shared ones (tests/conftest.py).
@pytest.fixture(scope="module")
def clean(clean_run: Ran) -> Ran:
    assert clean_run.done.returncode == 0, clean_run.output_tail()
    return clean_run


@pytest.fixture(scope="module")
def faulty(faulty_run: Ran) -> Ran:
    assert faulty_run.done.returncode == 1, faulty_run.output_tail()
    return faulty_run


def test_a_run_against_the_reference_writes_every_report(clean: Ran):
    run_dir = clean.run_dir
    for name in (
        "results.jsonl",
        "results.json",
        "junit.xml",
        "report.html",
        "certificate.json",
        "evidence/exchanges.har",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir.parent / "latest").resolve() == run_dir.resolve()
    records = clean.records
    assert len({r["nodeid"] for r in records}) == len(records)  # one line per check, none twice
    assert all(r["profile"] and r["evidence"] for r in records)
    assert all((run_dir / path).is_file() for r in records for path in r["evidence"])
    cases = ET.parse(run_dir / "junit.xml").getroot().findall(".//testcase")
    assert len([c for c in cases if c.get("classname") != "requirements"]) == len(records)
    certificate = json.loads((run_dir / "certificate.json").read_text())
    assert all(sha256_of(run_dir / name) == digest for name, digest in certificate["files"].items())
    assert all(v["outcome"] == "pass" for v in certificate["verdicts"])
    har = json.loads((run_dir / "evidence" / "exchanges.har").read_text())
    assert har["log"]["entries"] and all("_check" in e for e in har["log"]["entries"])
    page = (run_dir / "report.html").read_text()
    assert ">CONFORMANT<" in page and "certificate.json" in page
    assert "report: " in clean.done.stdout and "certificate: " in clean.done.stdout


def test_each_checks_evidence_holds_only_what_that_check_did(clean: Ran):
    for record in clean.records:
        document = json.loads((clean.run_dir / record["evidence"][0]).read_text())
        assert document["check"] == record["nodeid"]
        assert all(x["check"] == record["nodeid"] for x in document["exchanges"])
        assert all(e["check"] == record["nodeid"] for e in document["events"])
    # The scenario joins clients; the model phase walks once for all its checks (its own evidence).
    joined = next(r for r in clean.records if "END-02" in r["requirements"] and r["phase"] == "scenarios")
    events = json.loads((clean.run_dir / joined["evidence"][0]).read_text())["events"]
    assert any(e["kind"] == "client-event" for e in events)


def test_a_run_against_a_fault_writes_no_certificate_and_shows_the_failure_with_its_evidence(faulty: Ran):
    run_dir = faulty.run_dir
    assert not (run_dir / "certificate.json").exists()
    assert "no certificate: MUST END-02 did not pass (fail)" in faulty.done.stdout
    page = (run_dir / "report.html").read_text()
    assert ">NOT CONFORMANT<" in page
    row = page[page.index('id="req-END-02"') :]
    row = row[: row.index("</tr>")]
    assert "FAIL" in row and "roomLeft state" in row
    failures = page[page.index('id="failures"') : page.index('id="matrix"')]
    assert "END-02" in failures and "roomLeft state after kick-all" in failures
    assert "conformance run --reference-fault ended_says_left --requirement END-02" in failures
    assert "HTTP exchanges (" in failures and "kick-all" in failures
    assert "Client events (" in failures and "&quot;state&quot;: &quot;left&quot;" in failures
    results = json.loads((run_dir / "results.json").read_text())
    assert results["verdict"] == "NOT CONFORMANT" and results["certificate"] is None


def failed_checks(ran: Ran) -> list[str]:
    return sorted(r["nodeid"] for r in ran.records if r["outcome"] != "pass")


def test_an_asked_for_comparison_is_made_and_says_what_differs(faulty: Ran):
    # END-02 fails twice under the fault: its scenario and its model-phase check.
    failed = failed_checks(faulty)
    assert {r["phase"] for r in faulty.records if r["nodeid"] in failed} == {"scenarios", "model"}
    assert f"compared with clean: {len(failed)} new failure(s)" in faulty.done.stdout
    assert "note: clean differs: it judged another target" in faulty.done.stdout
    assert "another requirement selection (all)" in faulty.done.stdout
    comparison = json.loads((faulty.run_dir / "results.json").read_text())["comparison"]
    assert comparison["before_id"] == "clean"
    assert sorted(c["nodeid"] for c in comparison["new_failures"]) == failed
    assert all(c["requirements"] == ["END-02"] for c in comparison["new_failures"])


# Handed out with the long tests, it waits for the faulty run (which follows the clean run)
# while the cores are busy anyway; among the quick tests its own ~20 s run ended the session.
@pytest.mark.slow(20)
def test_rerun_failed_runs_only_the_checks_that_did_not_pass(faulty: Ran, tmp_path: Path):
    done = conformance(
        "run",
        "--reports-dir",
        str(tmp_path),
        "--run-id",
        "again",
        "--workers",
        "1",
        "--reference-fault",
        "ended_says_left",
        "--rerun-failed",
        str(faulty.run_dir),
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    again = tmp_path / "again"
    records = read_results(again / "results.jsonl")
    assert sorted(r["nodeid"] for r in records) == failed_checks(faulty)
    assert all(r["requirements"] == ["END-02"] for r in records)
    assert [line.split()[0] for line in done.stdout.splitlines() if line.startswith(("END-", "PERM-"))] == ["END-02"]
    progress = [line.split()[:2] for line in done.stdout.splitlines() if line.startswith(("pass ", "FAIL "))]
    assert progress and all(requirement == "END-02" for _, requirement in progress)
    meta = json.loads((again / "results.json").read_text())["run"]
    assert meta["rerun_of"] == str(faulty.run_dir) and sorted(meta["phases"]) == ["model", "scenarios"]


def test_list_shows_what_would_run_and_runs_nothing(tmp_path: Path, faulty: Ran):
    done = conformance("run", "--list", "--reports-dir", str(tmp_path), "--requirement", "END-02", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("END-02")]
    assert lines and all("MUST" in line and "session" in line and "::" in line for line in lines)
    assert "would run" in done.stdout
    assert not any(tmp_path.iterdir())
    rerun = conformance("run", "--list", "--rerun-failed", str(faulty.run_dir), timeout=120)
    would = f"{len(failed_checks(faulty))} check(s) of 1 requirement(s) would run"
    assert rerun.returncode == 0 and would in rerun.stdout, rerun.stdout
