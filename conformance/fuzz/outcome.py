"""The outcome of a fuzz campaign as the checks read it: findings by requirement, the numbers,
and — when the campaign could not test anything — why, so that it reports an error and
never a pass.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.errors import ImplementationFailed, SuiteCouldNotRun, TargetUnreachable
from conformance.fuzz.findings import Finding

MESSAGE_LIMIT = 1500  # characters of a results message; the evidence file has everything
# Problems that are the implementation's doing: a plain request got no answer or a 5xx.
IMPLEMENTATION_PROBLEMS = ("timeout", "server_error")


@dataclass
class Outcome:
    seed: int
    budget: str
    requests: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    # Why the campaign did not test the implementation: "unreachable", "unauthorized",
    # "timeout", "server_error", "incomplete" or "broken", with the reason in words.
    problem_kind: str | None = None
    problem: str | None = None
    left_behind: list[str] = field(default_factory=list)
    throttled: int = 0
    testrun: str | None = None  # which pytest session produced it (xdist workers share it)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def replay(self) -> str:
        return f"seed {self.seed} (replay: conformance run --phase fuzz --seed {self.seed})"

    def summary(self) -> str:
        return (
            f"{self.replay}; {self.budget}; {self.requests} requests in {self.seconds:.1f} s "
            f"({self.requests_per_second:.0f}/s)"
            + (f"; {self.throttled} throttled (429)" if self.throttled else "")
            + (f"; left behind: {', '.join(self.left_behind)}" if self.left_behind else "")
        )

    def raise_if_not_run(self, requirement: str) -> None:
        """The campaign did not test the implementation: an error, never a pass.

        A target that fails the plain request the campaign starts with (no answer, a 5xx)
        has failed API-01 already; the other requirements were not tested.
        """
        if self.problem is None:
            return
        message = f"the fuzz phase could not test the target: {self.problem} ({self.replay})"
        if self.problem_kind in IMPLEMENTATION_PROBLEMS and requirement == "API-01":
            raise ImplementationFailed(f"{self.problem} ({self.replay})")
        if self.problem_kind == "unreachable":
            raise TargetUnreachable(message)
        raise SuiteCouldNotRun(message)

    def for_requirement(self, requirement: str) -> list[Finding]:
        return [f for f in self.findings if f.requirement == requirement]

    def failure_message(self, requirement: str, evidence: str | None) -> str:
        found = self.for_requirement(requirement)
        first = found[0]
        parts = [
            f"{len(found)} fuzz finding(s) against {requirement} in {self.requests} requests, {self.replay}",
            f"first: {first.headline()}",
            f"reproduce: {' && '.join(first.reproduction)}",
        ]
        if len(found) > 1:
            parts.append("also: " + "; ".join(f.headline() for f in found[1:4]) + ("; …" if len(found) > 4 else ""))
        if evidence:
            parts.append(f"all failures with reproductions: {evidence}")
        message = " — ".join(parts)
        if len(message) <= MESSAGE_LIMIT:
            return message
        tail = f" … (cut; {evidence})" if evidence else " … (cut)"
        return message[: MESSAGE_LIMIT - len(tail)] + tail

    def printout(self, where: str, limit: int = 8, width: int = 600) -> str:
        """The failures for the terminal: each with its reproduction (long lines cut)."""
        lines = [
            f"fuzz phase: {len(self.findings)} finding(s), {self.replay}; all of them in {where}",
            "  (to reproduce, export RTK_API_TOKEN=<the admin token> first)",
        ]
        for finding in self.findings[:limit]:
            lines.append(f"  {finding.requirement} {finding.headline()}")
            lines += [f"    {c if len(c) <= width else c[:width] + ' …'}" for c in finding.reproduction]
        if len(self.findings) > limit:
            lines.append(f"  … and {len(self.findings) - limit} more")
        return "\n".join(lines)

    def details(self, requirement: str) -> str:
        """Everything about one requirement, for its evidence file."""
        found = self.for_requirement(requirement)
        lines = [f"{requirement}: {len(found)} finding(s)", self.summary(), ""]
        for finding in found:
            lines += [finding.describe(), ""]
        return "\n".join(lines)

    # -- shared between pytest processes ---------------------------------------------------

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["findings"] = [asdict(f) for f in self.findings]
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Outcome:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        findings = [Finding(**{**f, "reproduction": tuple(f["reproduction"])}) for f in data.pop("findings")]
        return cls(**data, findings=findings)
