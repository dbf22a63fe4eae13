"""`evidence/exchanges.har`: every HTTP exchange of the run as one HAR 1.2 log, gathered from
the per-check evidence files (each entry names its check in `_check`). Opens in browser
developer tools and HAR viewers."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.evidence_log import har_log  # the suite's one HAR mapping
from conformance.reports.evidence_files import EVIDENCE_DIR, read_evidence
from conformance.reports.stream import Run

NAME = "exchanges.har"


def write(run: Run) -> Path | None:
    exchanges = []
    for relative in run.evidence_files:
        if relative.endswith(".json"):
            exchanges.extend(read_evidence(run.run_dir / relative)[0])
    if not exchanges:
        return None
    exchanges.sort(key=lambda x: x.started_at)
    path = run.run_dir / EVIDENCE_DIR / NAME
    path.write_text(json.dumps(har_log(exchanges), ensure_ascii=False), encoding="utf-8")
    return path
