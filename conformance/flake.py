"""`conformance run --repeat N`: the flake gate.

Runs the chosen checks N times — each time in a new test process (so a fresh embedded
reference where the target is local) and in a different random order — and reports every
check whose outcome changed between runs. A check that flips is not evidence of anything.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace

from conformance.runner import RunOutcome, RunRequest, run
from conformance.verdict import read_results


@dataclass
class FlakeReport:
    outcomes: list[RunOutcome] = field(default_factory=list)
    by_check: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def flips(self) -> dict[str, list[str]]:
        return {check: seen for check, seen in self.by_check.items() if len(set(seen)) > 1}

    def summary(self) -> str:
        runs = len(self.outcomes)
        lines = [f"flake gate: {runs} runs of {len(self.by_check)} checks"]
        if not self.flips:
            lines.append("no check changed its outcome")
        for check, seen in sorted(self.flips.items()):
            lines.append(f"FLIPPED {check}: {', '.join(seen)}")
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        if self.flips:
            return 1
        return max((o.exit_code for o in self.outcomes), default=2)


def repeat(request: RunRequest, times: int, base_run_id: str) -> FlakeReport:
    report = FlakeReport()
    for index in range(times):
        overrides = {**request.overrides, "run_id": f"{base_run_id}-r{index + 1}"}
        outcome = run(replace(request, overrides=overrides, shuffle_seed=index + 1))
        report.outcomes.append(outcome)
        for record in read_results(outcome.run_dir / "results.jsonl"):
            report.by_check[record["nodeid"]].append(record["outcome"])
    return report


def dump(report: FlakeReport) -> str:
    return json.dumps({"runs": len(report.outcomes), "flips": report.flips}, indent=2)
