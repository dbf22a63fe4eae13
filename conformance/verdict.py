"""From check results to requirement verdicts, and from verdicts to an exit code.

What each outcome means: conformance/outcomes.py.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.catalogue import Catalogue, Requirement
from conformance.outcomes import INCONCLUSIVE, ORDER, Outcome, word, worst


@dataclass
class Verdict:
    requirement: Requirement
    outcome: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    expectation: Any = None  # the expectation-file entry for this requirement, if any
    note: str = ""  # what is wrong with that entry (stale, expired): fails the run

    @property
    def message(self) -> str:
        if self.note:
            return self.note
        if self.outcome == Outcome.EXPECTED_FAILURE and self.expectation is not None:
            observed = next((r.get("message") for r in self.checks if r.get("message")), "")
            return f"expected: {self.expectation.reason}" + (f" (observed: {observed})" if observed else "")
        for record in self.checks:
            if record["outcome"] != Outcome.PASS and record.get("message"):
                return record["message"]
        if self.outcome == Outcome.NOT_RUN and not self.checks:
            return "no check of this requirement ran"
        return ""


def read_results(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def aggregate(
    catalogue: Catalogue,
    profiles: Iterable[str],
    records: list[dict[str, Any]],
    only: set[str] | None = None,
) -> list[Verdict]:
    claimed = set(profiles)
    verdicts = []
    for requirement in catalogue.requirements:
        if only is not None and requirement.id not in only:
            continue
        if requirement.profile not in claimed:
            verdicts.append(Verdict(requirement, Outcome.DISABLED))
            continue
        checks = [r for r in records if requirement.id in r["requirements"]]
        outcomes = [r["outcome"] for r in checks]
        outcome = worst(outcomes) if checks else Outcome.NOT_RUN
        verdicts.append(Verdict(requirement, outcome, checks))
    return verdicts


def exit_code(verdicts: list[Verdict], expectation_problems: Iterable[str] = ()) -> int:
    """0: every claimed MUST passed; 1: the implementation failed one (or an expectation entry is
    stale or expired); 2: the suite could not tell."""
    outcomes = {v.outcome for v in verdicts}
    if Outcome.FAIL in outcomes or any(True for _ in expectation_problems):
        return 1
    if outcomes & set(INCONCLUSIVE):
        return 2
    return 0


def _width() -> int:
    return shutil.get_terminal_size((120, 24)).columns


def table(verdicts: list[Verdict], width: int | None = None) -> str:
    """One row per requirement; a long detail wraps under its column (cutting it lost the
    actionable end, e.g. which setting to change), and a detail equal to the row above is
    said once."""
    head = f"{'requirement':<10} {'level':<6} {'profile':<9} {'verdict':<8} "
    wrap = max(40, (width or _width()) - len(head))
    lines = [head + "detail"]
    previous = None
    for v in verdicts:
        detail = v.message if v.outcome not in (Outcome.PASS, Outcome.DISABLED) or v.note else ""
        if v.outcome == Outcome.DISABLED:
            detail = "profile not claimed"
        elif detail and previous is not None and detail == previous[1]:
            detail = f"(same as {previous[0]})"
        else:
            previous = (v.requirement.id, detail) if detail else None
        row = f"{v.requirement.id:<10} {v.requirement.level:<6} {v.requirement.profile:<9} {word(v.outcome):<8} "
        parts = textwrap.wrap(detail, wrap, break_long_words=False, break_on_hyphens=False) or [""]
        lines.append((row + parts[0]).rstrip())
        lines += [" " * len(head) + part for part in parts[1:]]
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.outcome] = counts.get(v.outcome, 0) + 1
    lines.append("")
    lines.append("  ".join(f"{o.word}: {counts[o]}" for o in ORDER if o in counts))
    return "\n".join(lines)
