"""`conformance selftest`: the clean reference passes every check and every fault is caught.

This is the proof that no check of the suite is vacuous; it runs the whole fault list once
(the late faults included, as `--late` runs them), and every test of that run reads its
kill matrix. The selftest's own logic is tested on synthetic outcomes."""

from __future__ import annotations

import json
import subprocess

import pytest

from conformance.reference.faults import FAULTS

LATE = {name for name, f in FAULTS.items() if f.apply.__module__.endswith(".late")}


@pytest.fixture(scope="session")
def whole_selftest(tmp_path_factory):
    """One real `conformance selftest --json` over every fault, once per session, started in the
    background when collection shows this fixture is wanted (tests/conftest.BACKGROUND; under
    xdist the first worker starts it, any may wait for it): (the finished process, its kill matrix)."""
    from conftest import BACKGROUND, read_background

    ran = read_background(tmp_path_factory, BACKGROUND["whole_selftest"])
    matrix = ran.run_dir / "kill-matrix.json"
    return ran.done, (json.loads(matrix.read_text()) if matrix.exists() else {})


@pytest.mark.timeout(1500)  # dozens of whole runs; bounded by the selftest's own run deadlines
def test_every_fault_is_caught_every_check_turns_red_and_the_clean_reference_passes(whole_selftest):
    done, matrix = whole_selftest
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"all {len(FAULTS)} faults caught" in done.stdout
    assert "SURVIVED" not in done.stdout and "NEVER RED" not in done.stdout
    checks = matrix["checks"]
    assert checks and all(row["killed_by"] for row in checks.values())
    assert set(matrix["faults"]) == set(FAULTS)


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


@pytest.mark.timeout(1500)  # shares the whole selftest's run (whichever test comes first pays)
def test_late_faults_are_caught_without_a_test_clock(whole_selftest):
    """Every late fault, run against the reference driven without its test clock and with the
    windows the late mode configures, fails the negative window meant for it."""
    done, matrix = whole_selftest
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    faults = matrix["faults"]
    assert set(faults) >= LATE and len(LATE) == 4
    for check, fault in NEGATIVE_WINDOWS.items():
        assert f"conformance/scenarios/{check}" in faults[fault]["turned_red"], (check, fault)
    duplicate = faults["late_duplicate_delivery"]["turned_red"]
    assert "conformance/scenarios/test_webhooks.py::test_a_receiver_answering_4xx_or_2xx_is_not_retried" in duplicate


def test_late_mode_runs_only_the_late_faults_without_the_test_clock(monkeypatch, tmp_path):
    """`--late` picks the late faults and runs each with the late windows and no test clock; the
    others run with the test clock. Checked on the run requests, nothing is run."""
    from conformance import selftest

    requests = {}

    def fake_run(request, engines=None):
        requests[request.overrides["run_id"]] = request
        return _outcome({}, code=0)

    monkeypatch.setattr(selftest, "run", fake_run)
    _, results = selftest.selftest(late_only=True, reports=tmp_path)
    assert {r.fault.name for r in results} == LATE
    for name in LATE:
        overrides = requests[f"selftest-{name}"].overrides
        assert overrides["time.control"] == "none" and overrides["limits.webhook_retry_seconds"] == 12
        assert requests[f"selftest-{name}"].phases == ["scenarios"]
    assert "time.control" not in requests["selftest-clean"].overrides

    requests.clear()
    selftest.selftest(["ended_says_left", "inactive_ignored", "kick_all_count_renamed"], reports=tmp_path)
    # A session fault runs the model phase only when the model judges one of its requirements.
    assert requests["selftest-ended_says_left"].phases == ["scenarios", "model"]  # END-02, END-05
    assert requests["selftest-inactive_ignored"].phases == ["scenarios", "model"]  # MEET-02
    assert requests["selftest-kick_all_count_renamed"].phases == ["contracts"]
    assert selftest.phases_for(FAULTS["webhook_filter_ignored"]) == ["scenarios"]  # WH-01: no model check


def test_a_fuzz_fault_is_fuzzed_where_it_shows_and_the_clean_run_everywhere(monkeypatch, tmp_path):
    """Each fuzz fault names the operations its wrong answer shows on (all in the description),
    and its run fuzzes only those; the clean run and every other fault's run fuzz everything.
    That each is still caught so is the whole selftest's proof (the first test here)."""
    from conformance import selftest
    from conformance.resources import operation_ids

    fuzz_faults = {name for name, fault in FAULTS.items() if fault.phase == "fuzz"}
    assert fuzz_faults and all(FAULTS[name].operations for name in fuzz_faults)
    assert {op for fault in FAULTS.values() for op in fault.operations} <= set(operation_ids())
    requests = {}

    def fake_run(request, engines=None):
        requests[request.overrides["run_id"]] = request
        return _outcome({}, code=0)

    monkeypatch.setattr(selftest, "run", fake_run)
    selftest.selftest([*sorted(fuzz_faults), "ended_says_left"], reports=tmp_path)
    for name in fuzz_faults:
        assert requests[f"selftest-{name}"].overrides["fuzz.operations"] == list(FAULTS[name].operations)
    assert "fuzz.operations" not in requests["selftest-clean"].overrides
    assert "fuzz.operations" not in requests["selftest-ended_says_left"].overrides


def test_every_fault_has_a_known_row_seen_breaking_a_requirement_it_declares():
    """The committed record of what each fault was seen breaking (`conformance faults`) covers
    every fault, and each row includes one of the fault's own requirements: it was caught."""
    from conformance import catalogue, known_breaks

    known = known_breaks.load()
    assert set(known) == set(FAULTS), f"refresh with {known_breaks.REFRESH}"
    ids = catalogue.load().ids()
    for name, row in known.items():
        assert set(row["seen"]) & set(FAULTS[name].requirements), name
        assert set(row["seen"]) <= set(ids) and row["checks"] in ("targeted", "full")


def test_faults_lists_what_each_fault_is_declared_and_seen_breaking(monkeypatch, capsys, tmp_path):
    from conformance import cli, kill_matrix, known_breaks, selftest

    path = tmp_path / "known.json"
    monkeypatch.setattr(known_breaks, "KNOWN", path)
    # A passing selftest of one fault, its run also turning a CLASS-05 check red.
    clean = _with_checks(
        {"t::end": ("END-02", "pass"), "t::kick": ("END-05", "pass"), "t::c5": ("CLASS-05", "pass")}, 0
    )
    seen = _with_checks({"t::end": ("END-02", "fail"), "t::kick": ("END-05", "pass"), "t::c5": ("CLASS-05", "fail")})
    run = selftest.FaultResult(FAULTS["ended_says_left"], seen)
    monkeypatch.setattr(selftest, "selftest", lambda *a, **k: (clean, [run]))
    assert cli.main(["selftest", "--fault", "ended_says_left", "--full", "--record-known"]) == 0
    assert known_breaks.load(path) == {"ended_says_left": {"seen": ["CLASS-05", "END-02"], "checks": "full"}}
    assert kill_matrix.build(clean, [run]).faults["ended_says_left"]["turned_red"] == ["t::c5", "t::end"]

    capsys.readouterr()
    assert cli.main(["faults"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("ended_says_left "))
    assert row.split()[1:3] == ["END-02,END-05", "CLASS-05"]
    assert "(not yet seen)" in next(line for line in lines if line.startswith("inactive_ignored "))

    # A selftest that did not prove itself records nothing.
    survivor = selftest.FaultResult(FAULTS["inactive_ignored"], _with_checks({}))
    monkeypatch.setattr(selftest, "selftest", lambda *a, **k: (clean, [survivor]))
    assert cli.main(["selftest", "--fault", "inactive_ignored", "--record-known"]) == 1
    assert set(known_breaks.load(path)) == {"ended_says_left"}


@pytest.mark.timeout(120)
def test_sigterm_stops_the_selftest_and_no_queued_run_starts(tmp_path):
    """Stopped (a CI job cancelled, a test session cut short), the selftest ends with the runs in
    progress: before, the queued runs went on starting one after another, for minutes."""
    import os
    import signal
    import time

    from conftest import CLI

    from tests.processes import isolated_env

    with (tmp_path / "out").open("w") as out:
        proc = subprocess.Popen(
            [*CLI, "selftest"], env=isolated_env(TMPDIR=str(tmp_path)), stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("rtkc-selftest-*/selftest-*")) and time.monotonic() < deadline:
            time.sleep(0.2)  # waiting for the first run to start (its folder appears), with a deadline
        assert list(tmp_path.glob("rtkc-selftest-*/selftest-*")), (tmp_path / "out").read_text()[-2000:]
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)  # nothing of the selftest runs on
        started = list(tmp_path.glob("rtkc-selftest-*/selftest-*"))
        assert len(started) < len(FAULTS) + 1
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_runs_that_wait_longest_start_first(monkeypatch, tmp_path):
    """The clean run, then the session faults of webhook requirements (delivery and retry
    windows), then the fuzz campaigns: started last, the longest of them ran alone at the end of
    the selftest. Checked on the order the runs are started in, nothing is run."""
    from conformance import selftest
    from conformance.catalogue import load

    started = []

    def fake_run(request, engines=None):
        started.append(request.overrides["run_id"].removeprefix("selftest-"))
        return _outcome({}, code=0)

    monkeypatch.setattr(selftest, "run", fake_run)
    selftest.selftest(parallel=1, reports=tmp_path)
    profiles = load()

    def waits_on_webhooks(name: str) -> bool:
        fault = FAULTS[name]
        return (
            fault.phase == "scenarios"
            and name not in LATE
            and any(profiles[rid].profile == "webhooks" for rid in fault.requirements)
        )

    webhook_runs = [i for i, name in enumerate(started) if name != "clean" and waits_on_webhooks(name)]
    fuzz_runs = [i for i, name in enumerate(started) if name != "clean" and FAULTS[name].phase == "fuzz"]
    other_session_runs = [
        i
        for i, name in enumerate(started)
        if name != "clean" and FAULTS[name].phase == "scenarios" and not waits_on_webhooks(name) and name not in LATE
    ]
    assert started[0] == "clean"
    assert webhook_runs and fuzz_runs and other_session_runs
    assert max(webhook_runs) < min(fuzz_runs) < min(other_session_runs)
