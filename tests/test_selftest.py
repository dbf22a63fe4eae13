"""`conformance selftest`: the clean reference passes every check and every fault is caught.

This is the proof that no check of the suite is vacuous; it runs the whole fault list."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conformance.reference.faults import FAULTS


@pytest.mark.timeout(1500)  # dozens of whole runs; bounded by the selftest's own run deadlines
def test_every_fault_is_caught_and_the_clean_reference_passes():
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "selftest"], capture_output=True, text=True, timeout=1200, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"all {len(FAULTS)} faults caught" in done.stdout
    assert "SURVIVED" not in done.stdout


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
