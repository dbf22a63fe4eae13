"""`evidence/exchanges.har`: every HTTP exchange of the run as one HAR 1.2 log, gathered from
the per-check evidence files (each entry names its check in `_check`). Opens in browser
developer tools and HAR viewers."""

from __future__ import annotations

import json
from pathlib import Path

from conformance import __version__
from conformance.evidence import _har_entry  # one HAR mapping for the whole suite
from conformance.reports.evidence import EVIDENCE_DIR, read_evidence
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
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "realtimekit-conformance", "version": __version__},
            "entries": [_har_entry(x) for x in exchanges],
        }
    }
    path = run.run_dir / EVIDENCE_DIR / NAME
    path.write_text(json.dumps(har, ensure_ascii=False), encoding="utf-8")
    return path
