"""The model phase's checks: one per requirement the model judges.

The walk runs once per test process, inside whichever of these checks comes first (the
scheduler hands all of them to one xdist worker); every check then reads the same result and
fails only when one of its breaches (one per failing stored story, or the shrunk random one)
names its requirement.
The story is printed (numbered steps in plain words) and saved as a replay file under the
run's evidence/model/, for `conformance run --phase model --replay FILE`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

from conformance import catalogue
from conformance.errors import ImplementationFailed
from conformance.evidence_log import current_check
from conformance.model import machine
from conformance.model.story import Breach, numbered, read_replay, write_replay
from conformance.plugin import plan_of

pytestmark = pytest.mark.asyncio(loop_scope="session")

# What the rules (rules.py) assert. Not END-06: what kick-all answers with no live session is
# a SHOULD the model cannot judge without stopping the walk on a legal answer (the scenarios do).
JUDGED = (
    "MEET-01",
    "MEET-02",
    "LEAVE-01",
    "LEAVE-03",
    "LEAVE-04",
    "KICK-01",
    "PERM-01",
    "PERM-03",
    "END-01",
    "END-02",
    "END-03",
    "END-05",
    "END-08",
    "CLASS-01",
    "CLASS-02",
    "CLASS-03",
)

_RESULT: dict[str, machine.Result] = {}


def _say(pytestconfig: pytest.Config, text: str) -> None:
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        print(f"\n{text}", file=sys.stderr if os.environ.get("PYTEST_XDIST_WORKER") else sys.stdout, flush=True)


async def _walk(harness, pytestconfig: pytest.Config) -> machine.Result:
    if "result" in _RESULT:
        return _RESULT["result"]
    plan = plan_of(pytestconfig)
    replay_file = plan.model_replay
    try:
        if replay_file:
            _say(pytestconfig, f"model phase: replaying {replay_file}")
            result = await machine.replay(harness, read_replay(Path(replay_file)))
        else:
            budget = machine.budget_named(plan.model_preset)
            seed = machine.pick_seed(harness)
            _say(
                pytestconfig,
                f"model phase: seed {seed} (the stored stories, then up to {budget.examples} random stories "
                f"of up to {budget.steps} steps, {budget.seconds:g} s); replay with --seed {seed}",
            )
            result = await machine.explore(harness, seed, budget)
            _say(
                pytestconfig,
                f"model phase: told {len(result.stored)} stored stories and {result.examples} random ones",
            )
    finally:
        scenario = getattr(harness, "model_webhook_scenario", None)
        if scenario is not None:
            await scenario.cleanup()
            harness.model_webhook_scenario = None
    _RESULT["result"] = result
    results = pytestconfig.getoption("--rtkc-results")
    run_dir = Path(results).parent if results else None
    for finding in result.findings:
        saved = ""
        if run_dir is not None:
            name = finding.found_by or (f"seed-{result.seed}" if not result.replayed else "replayed")
            path = run_dir / "evidence" / "model" / f"replay-{name}.json"
            setup = {"profiles": list(harness.profiles), "time_control": harness.config.time.control}
            write_replay(path, finding.story, finding.breach, result.seed, setup)
            saved = f"\n  replay: conformance run --phase model --replay {path}"
        _say(
            pytestconfig,
            f"model phase: a story the rules forbid"
            f"{f' (the stored story {finding.found_by})' if finding.found_by else ''}\n{numbered(finding.story)}\n"
            f"  broken: {finding.breach.words()}{saved}",
        )
    return result


def _blames(breach: Breach, rid: str) -> bool:
    """A breach counts against the MUSTs its step stands for; a SHOULD only where no MUST is named."""
    if rid not in breach.requirements:
        return False
    known = catalogue.load()
    musts = [r for r in breach.requirements if known[r].gating]
    return not musts or rid in musts


@pytest.mark.parametrize("rid", [pytest.param(r, marks=pytest.mark.rtkc_requirement(r), id=r) for r in JUDGED])
async def test_random_interleavings_follow_the_model(harness, pytestconfig, request, rid):
    token = current_check.set(request.node.nodeid)
    try:
        result = await _walk(harness, pytestconfig)
    finally:
        current_check.reset(token)
    for finding in result.findings:
        if _blames(finding.breach, rid):
            raise ImplementationFailed(f"{finding.breach.words()}; the story:\n{numbered(finding.story)}")
