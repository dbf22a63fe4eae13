"""bench/mutation.py: the score is reported without and with the model phase, and the model
phase runs only for the mutants the scenarios miss. No mutant is run here (each is a whole run):
the checks are replaced by a table of outcomes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("mutation_bench", ROOT / "bench" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_dry_run_lists_the_mutants_and_both_phases_commands_and_runs_nothing(capsys, monkeypatch):
    bench = _bench()
    monkeypatch.setattr(bench, "run_checks", lambda *a: (_ for _ in ()).throw(AssertionError("ran a check")))
    assert bench.main(["--dry-run", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "running 3" in out and out.count(" drop statement") + out.count(" off by one") + out.count(" swap") <= 3
    assert "--pyargs conformance.scenarios" in out and "--pyargs conformance.model" in out
    assert bench.main(["--dry-run", "--limit", "3", "--without-model"]) == 0
    assert "--pyargs conformance.model" not in capsys.readouterr().out


def test_the_score_is_given_without_and_with_the_model_phase(capsys, monkeypatch):
    bench = _bench()
    # Mutants by the line they change: what the scenarios and the model phase say of each.
    sessions = bench.MODULES["sessions"]
    scenarios = {0: "killed", 1: "survived", 2: "survived", 3: "timed-out"}
    model = {1: "killed", 2: "survived"}
    ran: list[tuple[int, str]] = []

    def checks(module, source, timeout, package=bench.SCENARIOS):
        if not source.startswith("mutant "):
            return "survived", 0.0  # the unmutated baseline passes
        line = int(source.split()[1])
        ran.append((line, package))
        return (scenarios if package == bench.SCENARIOS else model)[line], 1.0

    monkeypatch.setattr(bench, "run_checks", checks)
    monkeypatch.setattr(
        bench, "mutant_sites", lambda module: [(module, i) for i in range(4)] if module == sessions else []
    )
    monkeypatch.setattr(
        bench, "build_mutant", lambda module, i: bench.Mutant(module, i, "drop statement", f"mutant {i}")
    )
    assert bench.main(["--limit", "4", "--parallel", "1"]) == 0
    out = capsys.readouterr().out
    assert "mutation score without the model phase: 33% (1 killed of 3 killed or survived)" in out
    assert "mutation score with the model phase: 67% (2 killed of 3 killed or survived)" in out
    assert "killed only by the model phase: conformance/reference/sessions.py:1" in out
    # The model phase ran for the scenarios' survivors only.
    assert sorted(line for line, package in ran if package == bench.MODEL) == [1, 2]

    ran.clear()
    assert bench.main(["--limit", "4", "--parallel", "1", "--without-model"]) == 0
    out = capsys.readouterr().out
    assert "without the model phase: 33%" in out and "with the model phase" not in out
    assert all(package == bench.SCENARIOS for _, package in ran)
