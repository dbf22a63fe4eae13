"""The per-check kill matrix: which faults turned which check red.

A fault run counts against every check that failed (or warned, for a SHOULD) in it. A check
the clean run collects that no fault ever turns red could pass whatever the implementation
does: the selftest lists it by node id and fails, just as it fails on a surviving fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.outcomes import CAUGHT as RED

if TYPE_CHECKING:
    from conformance.runner import RunOutcome
    from conformance.selftest import FaultResult


def check_records(outcome: RunOutcome) -> list[dict[str, Any]]:
    """Every check record of a run, once each (a check may evidence several requirements)."""
    seen: dict[str, dict[str, Any]] = {}
    for verdict in outcome.verdicts:
        for record in verdict.checks:
            seen.setdefault(record["nodeid"], record)
    return list(seen.values())


def turned_red(outcome: RunOutcome) -> list[str]:
    return sorted(r["nodeid"] for r in check_records(outcome) if r["outcome"] in RED)


@dataclass
class KillMatrix:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def never_red(self) -> list[str]:
        return sorted(node for node, row in self.checks.items() if not row["killed_by"])

    def as_json(self) -> dict[str, Any]:
        return {"checks": self.checks, "faults": self.faults}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def summary(self) -> str:
        killed = len(self.checks) - len(self.never_red)
        lines = [f"kill matrix: {killed} of {len(self.checks)} checks turned red by at least one fault"]
        for node in self.never_red:
            lines.append(f"  NEVER RED  {node}  ({', '.join(self.checks[node]['requirements'])})")
        by_count = sorted(self.checks.items(), key=lambda kv: len(kv[1]["killed_by"]))
        thin = [node for node, row in by_count if len(row["killed_by"]) == 1]
        if thin:
            lines.append(f"  {len(thin)} check(s) rest on a single fault (see --json for which)")
        return "\n".join(lines)


def build(clean: RunOutcome, results: list[FaultResult]) -> KillMatrix:
    """Rows for every check the clean run collected; a check a fault run collected that the
    clean run did not (a fault's own phase) gets a row too, so nothing goes unlisted."""
    matrix = KillMatrix()

    def row(record: dict[str, Any]) -> dict[str, Any]:
        return matrix.checks.setdefault(
            record["nodeid"], {"requirements": list(record["requirements"]), "killed_by": []}
        )

    for record in check_records(clean):
        row(record)
    for result in results:
        red = []
        for record in check_records(result.outcome):
            entry = row(record)
            if record["outcome"] in RED:
                entry["killed_by"].append(result.fault.name)
                red.append(record["nodeid"])
        matrix.faults[result.fault.name] = {"phase": result.fault.phase, "turned_red": sorted(red)}
    for entry in matrix.checks.values():
        entry["killed_by"].sort()
    return matrix
