"""The report writers, fed a synthetic run: JUnit, results.json, HTML, certificate, latest,
comparison. Fast (no engine); the end-to-end runs are in test_reports_run.py."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conformance import catalogue
from conformance.compare import compare, diff_dirs, render
from conformance.config import load_config
from conformance.evidence_log import EvidenceLog
from conformance.redaction import Redactor
from conformance.reports import junit, latest, publish
from conformance.reports.evidence_files import files_for_check, write_check_evidence
from conformance.reports.stream import SCHEMA, load, sha256_of
from conformance.verdict import aggregate

TOKEN = "canary-admin-token-5f1e2d3c4b5a"
PARTICIPANT_TOKEN = "rtkp_canary-participant-0001"


def nodeid(rid: str) -> str:
    return f"conformance/scenarios/test_synthetic.py::test_{rid.lower().replace('-', '_')}"


def make_run(
    tmp_path: Path,
    run_id: str,
    *,
    profiles: tuple[str, ...] = ("api", "recording"),
    outcomes: dict[str, str] | None = None,
    requirements: list[str] | None = None,
    faults: list[str] | None = None,
    compare_with: Path | None = None,
    settings: dict[str, object] | None = None,
) -> publish.Published:
    """A run with one check per claimed requirement (pass unless `outcomes` says otherwise)."""
    outcomes = outcomes or {}
    config = load_config(
        None,
        {"RTKC_ADMIN_TOKEN": TOKEN},
        {"run_id": run_id, "reports_dir": str(tmp_path), "target.profiles": list(profiles), **(settings or {})},
    )
    run_dir = tmp_path / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    publish.clear(run_dir)
    cat = catalogue.load()
    chosen = [r for r in cat.for_profiles(profiles) if not requirements or r.id in requirements]
    log = EvidenceLog(Redactor(config.secrets()))
    records = []
    for requirement in chosen:
        node = nodeid(requirement.id)
        outcome = outcomes.get(requirement.id, "pass")
        log.record_exchange(
            method="POST",
            url="http://127.0.0.1:9/client/v4/meetings",
            request_headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
            request_body=b'{"title":"t"}',
            status=201,
            response_headers={"content-type": "application/json"},
            response_body=json.dumps({"data": {"id": "m1", "token": PARTICIPANT_TOKEN}}).encode(),
            error=None,
            started_at=datetime.now(UTC),
            duration_ms=3.0,
            check=node,
        )
        log.record_event("client-event", {"participant": "host1", "type": "roomLeft", "state": "left"}, node)
        write_check_evidence(run_dir, node, log.for_check(node), log.events_for_check(node), log.redactor)
        message = "" if outcome == "pass" else f"{requirement.id}: expected 'ended', got 'left' [evidence x00001]"
        records.append(
            {
                "nodeid": node,
                "name": node.split("::")[1],
                "requirements": [requirement.id],
                "profile": requirement.profile,
                "outcome": outcome,
                "observed": outcome,
                "message": message,
                "duration": 0.1,
                "phase": "scenarios",
                "decided_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "evidence": files_for_check(run_dir, node),
            }
        )
    only = set(requirements) if requirements else None
    verdicts = aggregate(cat, profiles, records, only)
    code = 1 if "fail" in outcomes.values() else 0
    meta = publish.meta(
        config,
        started=datetime.now(UTC),
        seconds=1.0,
        requirements=requirements or [],
        phases=["scenarios"],
        available_phases=["scenarios"],
        faults=faults or [],
        exit_code=code,
        reason="",
        reproduce=publish.reproduce_args(None, {}, faults or []),
    )
    return publish.publish(run_dir, meta, records, verdicts, [], compare_with)


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# -- JUnit ---------------------------------------------------------------------------------------


def test_junit_has_one_testcase_per_check_named_by_requirement(tmp_path: Path):
    published = make_run(tmp_path, "r1", outcomes={"MEET-03": "fail", "API-01": "error"})
    root = ET.parse(published.run.run_dir / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    checks = published.run.checks
    assert len([c for c in cases if c.get("classname") != "requirements"]) == len(checks)
    by_req = {c.find("properties/property[@name='requirement']").get("value"): c for c in cases}
    assert by_req["MEET-03"].get("name").startswith("MEET-03 ")
    assert by_req["MEET-03"].find("failure") is not None
    assert by_req["API-01"].find("error") is not None
    assert by_req["END-04"].find("failure") is None and by_req["END-04"].find("error") is None
    props = {p.get("name"): p.get("value") for p in by_req["MEET-03"].iter("property")}
    assert props["level"] == "MUST" and props["profile"] == "api" and props["outcome"] == "fail"


def test_junit_lists_unclaimed_requirements_as_skipped(tmp_path: Path):
    published = make_run(tmp_path, "r1")
    root = ET.parse(published.run.run_dir / "junit.xml").getroot()
    disabled = [c for c in root.iter("testcase") if c.get("name") == "END-02 (requirement)"]
    assert disabled and disabled[0].find("skipped") is not None


# Every byte value, then what only a str can hold: lone surrogates, the two noncharacters XML
# forbids, and characters beyond the BMP (allowed, and kept).
HOSTILE = "".join(chr(i) for i in range(256)) + "\ud800 \udfff \ud83d \ufffe \uffff \U0001f600 \U0010ffff end"


@pytest.mark.parametrize("outcome", ["fail", "error", "expected_failure"])
def test_junit_parses_whatever_a_message_holds(tmp_path: Path, outcome: str):
    published = make_run(tmp_path, "r1", requirements=["MEET-03"], outcomes={"MEET-03": "fail"})
    run = published.run
    check = dataclasses.replace(run.checks[0], outcome=outcome, message=HOSTILE, nodeid=run.checks[0].nodeid + HOSTILE)
    path = junit.write(dataclasses.replace(run, checks=[check]))
    root = ET.parse(path).getroot()  # raises on any character XML 1.0 forbids
    case = next(c for c in root.iter("testcase") if c.get("classname") != "requirements")
    element = case.find({"fail": "failure", "error": "error", "expected_failure": "skipped"}[outcome])
    message = element.get("message")
    allowed = "\t\n\r" + "".join(chr(i) for i in range(0x20, 256))
    # Attribute values come back with tabs and newlines normalised; every other allowed byte survives.
    assert all(ch in message for ch in allowed if ch not in "\t\n\r")
    assert "\x01" not in message and "\x00" not in message and "\ufffe" not in message
    assert "\U0001f600" in message and "\U0010ffff" in message and "end" in message
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in message)
    if outcome != "expected_failure":
        # A parser reads a raw carriage return as a line feed (XML 1.0 §2.11).
        assert element.text == junit.xml_safe(HOSTILE).replace("\r", "\n")
    nodeid = {p.get("name"): p.get("value") for p in case.iter("property")}["nodeid"]
    assert nodeid.endswith("end") and "\x1f" not in nodeid


# -- results.json ----------------------------------------------------------------------------------


def test_results_json_is_versioned_complete_and_redacted(tmp_path: Path):
    published = make_run(tmp_path, "r1", outcomes={"MEET-03": "fail"})
    text = (published.run.run_dir / "results.json").read_text()
    data = json.loads(text)
    assert data["schema"] == SCHEMA
    assert data["verdict"] == "NOT CONFORMANT"
    assert data["run"]["config"]["tokens"]["admin"] == "[REDACTED]"
    assert {r["requirement"] for r in data["requirements"]} == set(catalogue.load().ids())
    check = next(c for c in data["checks"] if c["requirements"] == ["MEET-03"])
    assert check["outcome"] == "fail" and check["evidence"][0].startswith("evidence/scenarios/")
    assert TOKEN not in text
    assert load(published.run.run_dir).requirements["MEET-03"] == "fail"


# -- certificate -----------------------------------------------------------------------------------


def test_a_certificate_pins_every_other_file_when_every_claimed_must_passed(tmp_path: Path):
    # WH-04 is a SHOULD: its warning is reported and does not stand in the way.
    assert catalogue.load()["WH-04"].level == "SHOULD"
    published = make_run(tmp_path, "r1", profiles=("api", "recording", "webhooks"), outcomes={"WH-04": "warning"})
    assert published.certificate is not None
    cert = json.loads(published.certificate.read_text())
    assert cert["profiles"] == ["api", "recording", "webhooks"]
    assert {"requirement": "WH-04", "level": "SHOULD", "profile": "webhooks", "outcome": "warning"} in cert["verdicts"]
    assert cert["catalogue_version"] == catalogue.load().version and len(cert["openapi"]["sha256"]) == 64
    run_dir = published.run.run_dir
    files = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()} - {"certificate.json"}
    assert set(cert["files"]) == files
    assert {"results.json", "junit.xml", "report.html", "evidence/exchanges.har"} <= files
    assert all(sha256_of(run_dir / name) == digest for name, digest in cert["files"].items())


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"outcomes": {"END-04": "fail"}}, "MUST END-04 did not pass (fail)"),
        ({"outcomes": {"MEET-03": "error"}}, "MUST MEET-03 did not pass (error)"),
        ({"requirements": ["END-04"]}, "restricted"),
        ({"faults": ["ended_says_left"]}, "faults"),
        ({"settings": {"fuzz.operations": ["listSessions"]}}, "fuzz phase covered only some operations"),
    ],
    ids=["must-failed", "suite-error", "partial-selection", "reference-fault", "some-operations-fuzzed"],
)
def test_no_certificate_unless_the_whole_claim_passed(tmp_path: Path, kwargs: dict, why: str):
    published = make_run(tmp_path, "r1", **kwargs)
    assert published.certificate is None
    assert not (published.run.run_dir / "certificate.json").exists()
    assert why in published.run.certificate_refusal


def test_a_reused_run_id_loses_its_old_certificate(tmp_path: Path):
    assert make_run(tmp_path, "nightly").certificate is not None
    again = make_run(tmp_path, "nightly", outcomes={"END-04": "fail"})
    assert again.certificate is None and not (tmp_path / "nightly" / "certificate.json").exists()


# -- latest ---------------------------------------------------------------------------------------


def test_latest_points_at_the_newest_run(tmp_path: Path):
    make_run(tmp_path, "first")
    make_run(tmp_path, "second")
    link = tmp_path / "latest"
    assert link.is_symlink() and os.readlink(link) == "second"
    assert latest.resolve(link).name == "second"
    assert latest.previous(tmp_path, "third").name == "second"
    assert latest.previous(tmp_path, "second") is None


def test_latest_falls_back_to_a_text_file_where_symlinks_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def no_symlinks(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError("symlinks not supported here")

    monkeypatch.setattr(Path, "symlink_to", no_symlinks)
    make_run(tmp_path, "first")
    make_run(tmp_path, "second")
    link = tmp_path / "latest"
    assert not link.is_symlink() and link.read_text().strip() == "second"
    assert latest.resolve(link) == tmp_path / "second"


# -- HTML -------------------------------------------------------------------------------------------


def test_the_html_is_self_contained_and_puts_failures_first(tmp_path: Path):
    published = make_run(tmp_path, "r1", outcomes={"MEET-03": "fail"})
    page = published.html.read_text()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for external in ("<script", "<link", 'src="http', "url(http", "@import"):
        assert external not in page
    assert page.index('id="verdict"') < page.index('id="failures"') < page.index('id="matrix"')
    assert "NOT CONFORMANT" in page
    failure = page[page.index('id="failures"') : page.index('id="matrix"')]
    assert "MEET-03: expected &#x27;ended&#x27;, got &#x27;left&#x27;" in failure
    assert "conformance run --requirement MEET-03" in failure
    assert "curl -sS -i -X POST" in failure and "$RTK_API_TOKEN" in failure
    assert "roomLeft" in failure  # the client events
    assert 'id="req-MEET-03"' in page
    assert TOKEN not in page and PARTICIPANT_TOKEN not in page


def test_the_html_links_every_evidence_file_a_phase_left(tmp_path: Path):
    from conformance.reports import html
    from conformance.reports.evidence_files import all_files

    run = make_run(tmp_path, "r1").run
    cassette = run.run_dir / "evidence" / "fuzz" / "cassette.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: []\n")
    run.evidence_files = all_files(run.run_dir)
    assert 'href="evidence/fuzz/cassette.yaml"' in html.render(run)


# -- comparing runs ----------------------------------------------------------------------------------


def test_compare_tells_new_failures_fixes_and_flips(tmp_path: Path):
    make_run(tmp_path, "before", outcomes={"END-04": "fail", "API-01": "error"})
    after = make_run(
        tmp_path, "after", outcomes={"MEET-03": "fail", "API-01": "fail"}, compare_with=tmp_path / "latest"
    )
    c = after.run.comparison
    assert c is not None and c.before_id == "before"
    assert [ch.requirements for ch in c.new_failures] == [["MEET-03"]]
    assert [ch.requirements for ch in c.fixed] == [["END-04"]]
    assert [(ch.requirements, ch.before, ch.after) for ch in c.flipped] == [(["API-01"], "error", "fail")]
    page = after.html.read_text()
    assert 'id="comparison"' in page and "New failures (1)" in page
    text = render(diff_dirs(tmp_path / "before", tmp_path / "after"))
    assert "new failures (1)" in text and "fixed (1)" in text and "ERROR → FAIL" in text


def test_conformance_diff_exits_1_on_a_new_failure(tmp_path: Path):
    make_run(tmp_path, "good")
    make_run(tmp_path, "bad", outcomes={"END-04": "fail"})
    run = [sys.executable, "-m", "conformance.cli", "diff"]
    worse = subprocess.run(
        [*run, str(tmp_path / "good"), str(tmp_path / "bad")], capture_output=True, text=True, timeout=60, check=False
    )
    assert worse.returncode == 1 and "new failures (1)" in worse.stdout, worse.stdout + worse.stderr
    better = subprocess.run(
        [*run, str(tmp_path / "bad"), str(tmp_path / "latest")], capture_output=True, text=True, timeout=60, check=False
    )
    assert better.returncode == 0 and "fixed (1)" not in better.stdout  # latest is "bad" itself
    assert "0 new failure(s)" in better.stdout


def test_compare_ignores_checks_missing_from_a_partial_run(tmp_path: Path):
    before = make_run(tmp_path, "full", outcomes={"END-04": "fail"}).run
    after = make_run(tmp_path, "part", requirements=["END-04"]).run
    c = compare(load(before.run_dir), {ch.nodeid: ch for ch in after.checks}, "part")
    assert len(c.fixed) == 1 and not c.new_failures and len(c.only_before) == len(before.checks) - 1
