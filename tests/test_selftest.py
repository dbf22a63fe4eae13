"""`conformance selftest`: the clean reference passes every check and every fault is caught.

This is the proof that no check of the suite is vacuous; it runs the whole fault list."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conformance.reference.faults import FAULTS


@pytest.mark.timeout(1500)  # dozens of whole runs; bounded by the selftest's own run deadlines
def test_every_fault_is_caught_every_check_turns_red_and_the_clean_reference_passes(tmp_path):
    matrix = tmp_path / "kill-matrix.json"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "selftest", "--json", str(matrix)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"all {len(FAULTS)} faults caught" in done.stdout
    assert "SURVIVED" not in done.stdout and "NEVER RED" not in done.stdout
    checks = json.loads(matrix.read_text())["checks"]
    assert checks and all(row["killed_by"] for row in checks.values())


def _outcome(verdicts: dict[str, str], code: int = 1):
    from pathlib import Path

    from conformance.catalogue import load
    from conformance.config import RunConfig
    from conformance.runner import RunOutcome
    from conformance.verdict import Verdict

    rows = [Verdict(r, verdicts.get(r.id, "pass")) for r in load().requirements]
    return RunOutcome(RunConfig(), rows, code, "", Path("."), 0.0)


def test_a_fault_whose_requirements_all_pass_survives_and_fails_the_selftest(monkeypatch, capsys):
    """The selftest itself can fail: a fault no targeted check catches is a survivor."""
    from conformance import cli, selftest

    fault = FAULTS["kick_all_wrong_count"]  # targets END-01
    caught = selftest.FaultResult(fault, _outcome({"END-01": "fail"}))
    missed_elsewhere = selftest.FaultResult(fault, _outcome({"END-02": "fail"}))  # not its requirement
    errored = selftest.FaultResult(fault, _outcome({"END-01": "error"}, code=2))  # an error is no catch
    assert caught.caught and not missed_elsewhere.caught and not errored.caught

    monkeypatch.setattr(selftest, "selftest", lambda *a, **k: (_outcome({}, code=0), [missed_elsewhere]))
    assert cli.main(["selftest"]) == 1
    assert "SURVIVED" in capsys.readouterr().out


def _with_checks(records: dict[str, tuple[str, str]], code: int = 1):
    """An outcome whose verdicts carry check records: node id -> (requirement, outcome)."""
    from pathlib import Path

    from conformance.catalogue import load
    from conformance.config import RunConfig
    from conformance.runner import RunOutcome
    from conformance.verdict import ORDER, Verdict

    rows = []
    for requirement in load().requirements:
        checks = [
            {"nodeid": node, "requirements": [rid], "outcome": outcome}
            for node, (rid, outcome) in records.items()
            if rid == requirement.id
        ]
        outcomes = {c["outcome"] for c in checks}
        rows.append(Verdict(requirement, next((o for o in ORDER if o in outcomes), "pass"), checks))
    return RunOutcome(RunConfig(), rows, code, "", Path("."), 0.0)


def test_the_kill_matrix_lists_a_check_no_fault_turns_red_and_the_selftest_fails(monkeypatch, capsys, tmp_path):
    from conformance import cli, kill_matrix, selftest

    clean = _with_checks({"t::crud": ("WH-01", "pass"), "t::filter": ("WH-01", "pass")}, code=0)
    fault = FAULTS["webhook_filter_ignored"]  # targets WH-01
    run = selftest.FaultResult(fault, _with_checks({"t::crud": ("WH-01", "pass"), "t::filter": ("WH-01", "fail")}))
    assert run.caught  # the fault is caught, yet one check of its requirement never went red

    kills = kill_matrix.build(clean, [run])
    assert kills.never_red == ["t::crud"]
    assert kills.as_json()["checks"]["t::filter"] == {
        "requirements": ["WH-01"],
        "killed_by": ["webhook_filter_ignored"],
    }
    assert kills.as_json()["faults"]["webhook_filter_ignored"] == {"phase": "scenarios", "turned_red": ["t::filter"]}

    monkeypatch.setattr(selftest, "selftest", lambda *a, **k: (clean, [run]))
    path = tmp_path / "matrix.json"
    assert cli.main(["selftest", "--json", str(path)]) == 1
    out = capsys.readouterr().out
    assert "NEVER RED  t::crud" in out and "1 check(s) no fault turned red" in out
    assert json.loads(path.read_text())["checks"]["t::crud"]["killed_by"] == []
    # A --fault subset cannot prove a check is never red: it reports, it does not fail on it.
    assert cli.main(["selftest", "--fault", "webhook_filter_ignored"]) == 0


def test_a_warning_turns_a_should_check_red_and_an_error_does_not():
    from conformance import kill_matrix, selftest

    clean = _with_checks({"t::a": ("END-07", "pass"), "t::b": ("END-07", "pass")}, code=0)
    run = selftest.FaultResult(
        FAULTS["second_end_fires_again"], _with_checks({"t::a": ("END-07", "warning"), "t::b": ("END-07", "error")})
    )
    assert kill_matrix.build(clean, [run]).never_red == ["t::b"]


# The checks whose negative window (steps.nothing_within) each late fault must fail.
NEGATIVE_WINDOWS = {
    "test_kick.py::test_kicking_one_participant_leaves_the_others_and_the_session_alone": "late_end_after_one_goes",
    "test_leave.py::test_a_leaver_gets_left_and_the_session_goes_on": "late_end_after_one_goes",
    "test_leave.py::test_the_host_leaving_does_not_end_the_session": "late_end_after_one_goes",
    "test_permissions.py::test_kick_all_without_permission_fails_with_1201_and_changes_nothing": (
        "late_end_after_refused_end"
    ),
    "test_permissions.py::test_a_refused_kick_all_delivers_no_meeting_ended": "late_end_after_refused_end",
    "test_permissions.py::test_kick_without_permission_fails_with_1201_and_changes_nothing": (
        "late_end_after_refused_end"
    ),
    "test_webhooks.py::test_a_receiver_answering_4xx_or_2xx_is_not_retried": "late_retry_of_4xx",
}


@pytest.mark.timeout(900)
def test_late_faults_are_caught_without_a_test_clock(tmp_path):
    """Every late fault, run against the reference driven without its test clock and with the
    windows the late mode configures, fails the negative window meant for it."""
    matrix = tmp_path / "late.json"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "selftest", "--late", "--json", str(matrix)],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    faults = json.loads(matrix.read_text())["faults"]
    assert set(faults) == {name for name, f in FAULTS.items() if f.apply.__module__.endswith(".late")}
    for check, fault in NEGATIVE_WINDOWS.items():
        assert f"conformance/scenarios/{check}" in faults[fault]["turned_red"], (check, fault)
    duplicate = faults["late_duplicate_delivery"]["turned_red"]
    assert "conformance/scenarios/test_webhooks.py::test_a_receiver_answering_4xx_or_2xx_is_not_retried" in duplicate
