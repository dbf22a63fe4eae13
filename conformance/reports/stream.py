"""One model of a run, read from the results stream and the run's metadata: every report
writer is a consumer of `Run`, and `results.json` is that model written down (so `diff`,
`--compare` and `--rerun-failed` read an old run back with `load`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.outcomes import worst
from conformance.reports import evidence_files as files
from conformance.verdict import Verdict

SCHEMA = "realtimekit-conformance/results/v1"


@dataclass
class RunMeta:
    run_id: str
    started_at: str  # ISO 8601, UTC
    finished_at: str
    seconds: float
    suite_version: str
    catalogue_version: str
    openapi_sha256: str
    target: str  # the target's description (never a token)
    profiles: list[str]  # claimed
    requirements: list[str]  # the selection; [] = every claimed requirement
    phases: list[str]  # phases that ran
    available_phases: list[str]
    faults: list[str]  # embedded reference faults switched on
    config: dict[str, Any]  # RunConfig.redacted()
    exit_code: int = 2
    reason: str = ""
    rerun_of: str | None = None
    expectations_file: str | None = None
    reproduce: list[str] = field(default_factory=list)  # `conformance run` arguments, no secrets

    @property
    def fuzz_operations(self) -> list[str]:
        """The operations the fuzz phase was limited to (`fuzz.operations`); [] = every one."""
        return list((self.config.get("fuzz") or {}).get("operations") or [])

    @property
    def complete(self) -> bool:
        """Did the run cover everything claimed (no selection, every phase, every operation
        fuzzed, not a re-run)?"""
        return (
            not self.requirements
            and not self.rerun_of
            and not self.fuzz_operations
            and set(self.available_phases) <= set(self.phases)
        )


@dataclass
class Check:
    nodeid: str
    name: str
    requirements: list[str]
    profile: str
    phase: str
    outcome: str  # after expectations (expected_failure)
    observed: str  # what the check itself reported
    message: str
    duration: float
    evidence: list[str]  # files relative to the run folder
    decided_at: str = ""  # ISO 8601 UTC: when the outcome was decided (later evidence is cleanup)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Check:
        return cls(
            nodeid=record["nodeid"],
            name=record.get("name", record["nodeid"].split("::")[-1]),
            requirements=list(record["requirements"]),
            profile=record.get("profile", ""),
            phase=record.get("phase") or files.phase_of(record["nodeid"]),
            outcome=record["outcome"],
            observed=record.get("observed", record["outcome"]),
            message=record.get("message", ""),
            duration=float(record.get("duration") or 0),
            evidence=list(record.get("evidence", [])),
            decided_at=record.get("decided_at", ""),
        )


@dataclass
class Run:
    run_dir: Path
    meta: RunMeta
    checks: list[Check]
    verdicts: list[Verdict]
    expectation_problems: list[str] = field(default_factory=list)
    evidence_files: list[str] = field(default_factory=list)
    comparison: Any = None  # conformance.compare.Comparison
    comparison_note: str = ""  # why no comparison was made, or what differs from the run compared with
    certificate_refusal: str | None = None  # why no certificate; None = issued

    @property
    def verdict_word(self) -> str:
        return {0: "CONFORMANT", 1: "NOT CONFORMANT"}.get(self.meta.exit_code, "NO VERDICT")

    def checks_of(self, requirement_id: str) -> list[Check]:
        return [c for c in self.checks if requirement_id in c.requirements]


def build(
    run_dir: Path,
    meta: RunMeta,
    records: list[dict[str, Any]],
    verdicts: list[Verdict],
    expectation_problems: list[str],
) -> Run:
    checks = [Check.from_record(r) for r in records]
    checks.sort(key=lambda c: c.nodeid)
    return Run(run_dir, meta, checks, verdicts, list(expectation_problems), files.all_files(run_dir))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verdict_dict(v: Verdict) -> dict[str, Any]:
    return {
        "requirement": v.requirement.id,
        "level": v.requirement.level,
        "profile": v.requirement.profile,
        "text": v.requirement.text,
        "outcome": v.outcome,
        "message": v.message,
        "checks": [r["nodeid"] for r in v.checks],
        "expectation": v.expectation.as_dict() if v.expectation is not None else None,
    }


def to_json(run: Run) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run": asdict(run.meta),
        "verdict": run.verdict_word,
        "certificate": None if run.certificate_refusal else "certificate.json",
        "certificate_refusal": run.certificate_refusal,
        "expectation_problems": run.expectation_problems,
        "requirements": [verdict_dict(v) for v in run.verdicts],
        "checks": [asdict(c) for c in run.checks],
        "evidence": run.evidence_files,
        "comparison": run.comparison.as_dict() if run.comparison is not None else None,
        "comparison_note": run.comparison_note,
    }


@dataclass
class Snapshot:
    """What an earlier run said, enough to compare with and to re-run from."""

    run_id: str
    run_dir: Path
    checks: dict[str, Check]  # by node id
    requirements: dict[str, str]  # requirement id → outcome
    started_at: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # results.json "run" ({} for a bare stream)


def load(run_dir: Path) -> Snapshot:
    """An earlier run from its folder: results.json, or the bare stream if the run was cut short."""
    from conformance.errors import ConfigError

    report = run_dir / "results.json"
    stream = run_dir / "results.jsonl"
    if report.is_file():
        data = json.loads(report.read_text(encoding="utf-8"))
        checks = {c["nodeid"]: Check.from_record(c) for c in data.get("checks", [])}
        requirements = {r["requirement"]: r["outcome"] for r in data.get("requirements", [])}
        run = data.get("run", {})
        return Snapshot(run.get("run_id", run_dir.name), run_dir, checks, requirements, run.get("started_at", ""), run)
    if stream.is_file():
        records = [json.loads(line) for line in stream.read_text(encoding="utf-8").splitlines() if line.strip()]
        checks = {r["nodeid"]: Check.from_record(r) for r in records}
        requirements: dict[str, str] = {}
        for check in checks.values():
            for rid in check.requirements:
                requirements[rid] = worst([check.outcome, requirements.get(rid, check.outcome)])
        return Snapshot(run_dir.name, run_dir, checks, requirements)
    raise ConfigError(f"{run_dir}: not a run folder (no results.json or results.jsonl)")
