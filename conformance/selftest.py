"""`conformance selftest`: proof that every check can fail.

Runs the suite against the embedded reference once clean (everything must pass), then once
per fault with that fault switched on. A fault is caught when a check of a requirement it
targets fails (or warns, for SHOULD). A fault nobody catches means some check cannot fail:
the selftest then exits non-zero.
"""

from __future__ import annotations

import concurrent.futures
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conformance import catalogue
from conformance.forkserver import ForkServer
from conformance.outcomes import CAUGHT, Outcome
from conformance.reference.faults import FAULTS, Fault
from conformance.runner import RunOutcome, RunRequest, available_phases, run


def is_late(fault: Fault) -> bool:
    """Its wrong effect comes seconds later (faults/late.py): run without the test clock, only a
    check that watches its whole negative window can catch it."""
    return fault.apply.__module__.endswith(".late")


# Loopback answers in milliseconds: a short event deadline keeps caught faults quick.
OVERRIDES = {"limits.event_timeout_seconds": 2}
# Late faults run as against a target without a test clock, with the windows they must fall
# inside: the default event timeout (a stray end 1-3 s later) and a retry window longer than the
# latest late delivery (10 s). Only the late faults' own checks run, so this stays bounded.
LATE_OVERRIDES = {"time.control": "none", "limits.event_timeout_seconds": 5, "limits.webhook_retry_seconds": 12}


@dataclass
class FaultResult:
    fault: Fault
    outcome: RunOutcome

    def verdict_of(self, requirement_id: str) -> str:
        for verdict in self.outcome.verdicts:
            if verdict.requirement.id == requirement_id:
                return verdict.outcome
        return "-"

    @property
    def caught(self) -> bool:
        return any(self.verdict_of(rid) in CAUGHT for rid in self.fault.requirements)


def model_judges() -> frozenset[str]:
    """The requirements the model phase has checks for (none when it is not installed)."""
    if "model" not in available_phases():
        return frozenset()
    from conformance.model.test_model import JUDGED

    return frozenset(JUDGED)


def phases_for(fault: Fault) -> list[str]:
    """A session fault also runs the model phase when the model judges one of its requirements:
    those model checks would otherwise be listed as never red. A fault of other requirements
    would only start the phase to select nothing. Late faults stay in the scenarios: the model
    needs the test clock they run without."""
    if fault.phase == "scenarios" and not is_late(fault) and model_judges() & set(fault.requirements):
        return ["scenarios", "model"]
    return [fault.phase]


# The longest runs first, so that no long one starts last and runs alone: a whole clean run,
# then the session faults of webhook requirements (their checks sit out delivery and retry
# windows: measured 15-30 s a run, the rest of the session faults 1-15 s), the fuzz campaigns,
# the late faults' real-time windows, then the short rest.
_FIRST = ("webhooks", "fuzz", "late", "model", "contracts", "scenarios")


def _longest_first(fault: Fault) -> int:
    if is_late(fault):
        return _FIRST.index("late")
    profiles = {catalogue.load()[rid].profile for rid in fault.requirements}
    if fault.phase == "scenarios" and "webhooks" in profiles:
        return _FIRST.index("webhooks")
    return _FIRST.index(fault.phase)


def _one(fault: Fault | None, full: bool, reports: Path, engines: ForkServer | None = None) -> RunOutcome:
    request = RunRequest(
        overrides={
            "reports_dir": str(reports),
            "run_id": f"selftest-{fault.name if fault else 'clean'}",
            **(LATE_OVERRIDES if fault is not None and is_late(fault) else OVERRIDES),
            # A fuzz fault's campaign fuzzes where its wrong answer shows (measured: ~22 CPU-s
            # for every operation, ~4 for one); the clean run fuzzes every operation.
            **({"fuzz.operations": list(fault.operations)} if fault is not None and fault.operations else {}),
        },
        requirements=[] if (full or fault is None) else list(fault.requirements),
        faults=[fault.name] if fault else [],
        phases=[] if (full or fault is None) else phases_for(fault),
        workers=1,
        quiet=True,
        # A fault's model checks are judged on the stored stories alone (model/machine.py).
        model_preset=None if fault is None else "stored",
    )
    return run(request, engines)


def selftest(
    names: list[str] | None = None,
    full: bool = False,
    parallel: int = 2,
    reports: Path | None = None,
    late_only: bool = False,
) -> tuple[RunOutcome, list[FaultResult]]:
    reports = reports or Path(tempfile.mkdtemp(prefix="rtkc-selftest-"))
    chosen = [FAULTS[n] for n in names] if names else list(FAULTS.values())
    if late_only:
        chosen = [f for f in chosen if is_late(f)]
    # Every run's engine is forked from one that has imported pytest, the plugin, the reference
    # and the checks once (conformance/forkserver.py): measured ~0.7 CPU-s less a run, ~80 runs.
    server_env = {name: value for name, value in os.environ.items() if not name.startswith("RTKC_")}
    with ForkServer(server_env) as engines, concurrent.futures.ThreadPoolExecutor(max(1, parallel)) as pool:
        try:
            clean = pool.submit(_one, None, full, reports, engines)
            futures = {pool.submit(_one, f, full, reports, engines): f for f in sorted(chosen, key=_longest_first)}
            results = [FaultResult(futures[fut], fut.result()) for fut in futures]
        except BaseException:
            # Ctrl-C or SIGTERM: the runs in progress end with their engines (the signal reached
            # them too, or their deadline ends them); none of the queued ones starts.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return clean.result(), sorted(results, key=lambda r: r.fault.name)


SYMBOLS = {
    Outcome.FAIL: "X",
    Outcome.WARNING: "x",
    Outcome.PASS: ".",
    Outcome.ERROR: "E",
    Outcome.NOT_RUN: "?",
    Outcome.DISABLED: " ",
    "-": " ",  # not judged in that run
}


def _label(requirement_id: str) -> str:
    """END-02 -> E02: one narrow matrix column per requirement."""
    prefix, number = requirement_id.split("-")
    return prefix[0] + number


def matrix(clean: RunOutcome, results: list[FaultResult]) -> str:
    ids = [v.requirement.id for v in clean.verdicts]
    width = max(len(r.fault.name) for r in results) if results else 10
    header = " " * (width + 8) + " ".join(_label(i) for i in ids)
    lines = [
        "fault x requirement  (X caught, x caught as warning, . passed, E error, ? not run, blank: not targeted)",
        header,
    ]
    clean_row = " ".join(f"{SYMBOLS[v.outcome]:>{len(_label(i))}}" for v, i in zip(clean.verdicts, ids, strict=True))
    lines.append(f"{'(no fault)':<{width}} {'':<7}{clean_row}")
    for result in results:
        cells = []
        for i in ids:
            label = _label(i)
            mark = (
                SYMBOLS[result.verdict_of(i)]
                if (i in result.fault.requirements or result.verdict_of(i) in CAUGHT)
                else " "
            )
            cells.append(f"{mark:>{len(label)}}")
        status = "caught " if result.caught else "SURVIVED"
        lines.append(f"{result.fault.name:<{width}} {status:<7}{' '.join(cells)}")
    return "\n".join(lines)
