"""`results.json`: the whole run for machines, in a versioned schema (stream.SCHEMA).

Top level: schema, run (metadata with the redacted configuration), verdict, certificate,
expectation_problems, requirements (one verdict each), checks (one record each), evidence
(every file under evidence/), comparison (with an earlier run, when there is one).
"""

from __future__ import annotations

import json
from pathlib import Path

from conformance.reports.stream import Run, to_json

NAME = "results.json"


def write(run: Run) -> Path:
    path = run.run_dir / NAME
    path.write_text(json.dumps(to_json(run), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
