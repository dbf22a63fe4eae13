"""Write every report of a finished run, in the order their contents depend on:

    evidence/ (already filed by the plugin) → evidence/exchanges.har → results.json,
    junit.xml, report.html → certificate.json (hashes all of them) → reports/latest

The runner calls `publish` after the engine stops, whatever happened (failure, deadline).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__, catalogue, run_flags
from conformance.config import RunConfig
from conformance.errors import ConformanceError
from conformance.reports import certificate, har, html, json_report, junit, latest
from conformance.reports.evidence_files import EVIDENCE_DIR
from conformance.reports.stream import Run, RunMeta, build, load, sha256_of
from conformance.resources import openapi_path
from conformance.verdict import Verdict

# What a run writes besides results.jsonl; cleared first when a run id is reused.
OUTPUTS = (json_report.NAME, junit.NAME, html.NAME, certificate.NAME)


# Overrides that have a `conformance run` flag, so a reproduction command can repeat them.
@dataclass
class Published:
    run: Run
    html: Path
    certificate: Path | None


def clear(run_dir: Path) -> None:
    """Remove what an earlier run with the same id left, so no stale file (a certificate!) survives."""
    for name in OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / EVIDENCE_DIR, ignore_errors=True)


def reproduce_args(config_path: Path | None, overrides: Mapping[str, object], faults: Sequence[str]) -> list[str]:
    args: list[str] = []
    if config_path is not None:
        args += ["--config", str(config_path.resolve())]
    args += run_flags.reproduce(overrides)
    for fault in faults:
        args += ["--reference-fault", fault]
    return args


def meta(
    config: RunConfig,
    *,
    started: datetime,
    seconds: float,
    requirements: Sequence[str],
    phases: Sequence[str],
    available_phases: Sequence[str],
    faults: Sequence[str],
    exit_code: int,
    reason: str,
    reproduce: list[str],
    rerun_of: Path | None = None,
    expectations_file: Path | None = None,
) -> RunMeta:
    if config.target.base_url:
        target = config.target.description or config.target.base_url
    else:
        target = "bundled reference implementation (embedded)"
        if faults:
            target += f" with fault(s) {', '.join(faults)}"
    return RunMeta(
        run_id=config.run_id,
        started_at=started.astimezone(UTC).isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        seconds=round(seconds, 3),
        suite_version=__version__,
        catalogue_version=catalogue.load().version,
        openapi_sha256=sha256_of(openapi_path()),
        target=target,
        profiles=list(config.target.profiles),
        requirements=list(requirements),
        phases=list(phases),
        available_phases=list(available_phases),
        faults=list(faults),
        config=config.redacted(),
        exit_code=exit_code,
        reason=reason,
        rerun_of=str(rerun_of) if rerun_of else None,
        expectations_file=str(expectations_file) if expectations_file else None,
        reproduce=reproduce,
    )


def publish(
    run_dir: Path,
    run_meta: RunMeta,
    records: list[dict[str, Any]],
    verdicts: list[Verdict],
    expectation_problems: list[str],
    compare_with: Path | None = None,
) -> Published:
    """`compare_with`: the run the user named (compared with even if it differs, saying how);
    None: the newest earlier run in the reports folder with the same target and selection."""
    from conformance.compare import choose, compare, differences

    run = build(run_dir, run_meta, records, verdicts, expectation_problems)
    this = asdict(run_meta)
    before = None
    if compare_with is not None:
        try:
            before = load(latest.resolve(compare_with))
        except (OSError, ValueError, KeyError, ConformanceError):
            run.comparison_note = f"{compare_with} could not be read"
        if before is not None and differences(before.meta, this):
            run.comparison_note = f"{before.run_id} differs: {'; '.join(differences(before.meta, this))}"
    else:
        before, run.comparison_note = choose(run_dir.parent, run_dir.name, this)
    if before is not None:
        run.comparison = compare(before, {c.nodeid: c for c in run.checks}, run_meta.run_id)
    if har.write(run) is not None:
        run.evidence_files = sorted({*run.evidence_files, f"{EVIDENCE_DIR}/{har.NAME}"})
    run.certificate_refusal = certificate.refusal(run, catalogue.load())
    json_report.write(run)
    junit.write(run)
    page = html.write(run)
    issued = certificate.write(run) if run.certificate_refusal is None else None
    latest.point(run_dir.parent, run_dir.name)
    return Published(run, page, issued)
