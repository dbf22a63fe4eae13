"""`certificate.json`: written only when every MUST of every claimed profile passed, in a run
that covered everything claimed. It names what was tested and how, and pins every other file of
the run by sha256, so a published folder can be checked byte for byte:

    sha256sum -c <(jq -r '.files | to_entries[] | "\\(.value)  \\(.key)"' certificate.json)

It is not signed: whoever publishes it vouches for it (see README, "Vendor certification").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.catalogue import Catalogue
from conformance.outcomes import Outcome
from conformance.reports.stream import Run, sha256_of

NAME = "certificate.json"
SCHEMA = "realtimekit-conformance/certificate/v1"


def refusal(run: Run, catalogue: Catalogue) -> str | None:
    """Why this run earns no certificate, or None when it does."""
    m = run.meta
    if not m.profiles:
        return "no profile was claimed"
    if run.expectation_problems:
        return "the expectation file has stale or expired entries"
    outcomes = {v.requirement.id: v.outcome for v in run.verdicts}
    for v in run.verdicts:  # what the run saw first; what it left out after
        if v.requirement.gating and v.outcome == Outcome.EXPECTED_FAILURE:
            return f"MUST {v.requirement.id} is only expected to fail, not passed"
        if v.requirement.gating and v.outcome not in (Outcome.PASS, Outcome.DISABLED):
            return f"MUST {v.requirement.id} did not pass ({v.outcome})"
    if m.faults:
        return "reference faults were switched on"
    if m.rerun_of:
        return "a re-run of failed checks covers only part of the claimed requirements"
    if not set(m.available_phases) <= set(m.phases):  # first: --phase restricts requirements too
        missing = sorted(set(m.available_phases) - set(m.phases))
        return f"phase(s) {', '.join(missing)} did not run"
    if m.requirements:
        return "the run was restricted to some requirements (--requirement)"
    if m.fuzz_operations:
        return "the fuzz phase covered only some operations (fuzz.operations)"
    for requirement in catalogue.for_profiles(m.profiles):
        if requirement.gating and outcomes.get(requirement.id) != Outcome.PASS:
            return f"MUST {requirement.id} was not checked"
    if m.exit_code != 0:
        return f"the run did not end CONFORMANT (exit code {m.exit_code})"
    return None


def document(run: Run, file_hashes: dict[str, str]) -> dict[str, Any]:
    m = run.meta
    return {
        "schema": SCHEMA,
        "statement": "Every MUST requirement of the claimed profiles passed against this target.",
        "suite": {"name": "realtimekit-conformance", "version": m.suite_version},
        "catalogue_version": m.catalogue_version,
        "openapi": {"document": "openapi/realtimekit.yaml", "sha256": m.openapi_sha256},
        "target": m.target,
        "profiles": list(m.profiles),
        "run": {"id": m.run_id, "started_at": m.started_at, "finished_at": m.finished_at},
        "verdicts": [
            {
                "requirement": v.requirement.id,
                "level": v.requirement.level,
                "profile": v.requirement.profile,
                "outcome": v.outcome,
            }
            for v in run.verdicts
        ],
        "files": file_hashes,
    }


def write(run: Run) -> Path:
    """Hash every other file of the run folder into the certificate (call it last)."""
    files = sorted(p for p in run.run_dir.rglob("*") if p.is_file() and p.name != NAME)
    hashes = {p.relative_to(run.run_dir).as_posix(): sha256_of(p) for p in files}
    path = run.run_dir / NAME
    path.write_text(json.dumps(document(run, hashes), indent=1) + "\n", encoding="utf-8")
    return path
