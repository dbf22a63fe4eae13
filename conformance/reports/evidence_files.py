"""Where evidence lives in a run's folder, and how one check's evidence is filed.

    reports/<run-id>/evidence/
      <phase>/<check-stem>.json     what one check exchanged and saw (written by the plugin):
                                    {"check", "phase", "exchanges": [...], "events": [...]}
      <phase>/<check-stem>.*        anything else a phase files for that check (a fuzz
                                    cassette, pact verifier output); the plugin links it to the
                                    check's record when it exists by the time the check ends
      <phase>/<any other name>      phase-wide files (a whole cassette, a verifier log); the
                                    HTML report links every file under evidence/
      harness/<process>.json        exchanges and events outside any check (preset setup,
                                    teardown), one file per pytest process
      exchanges.har                 every HTTP exchange of the run as one HAR 1.2 log

A phase finds its folder with `phase_dir(run_dir_of(pytestconfig), "fuzz")` and names a
check's files with `check_stem(nodeid)`. Everything here must already be redacted: the
plugin's files pass through the run's Redactor once more when written, since a token learned
late (a participant token in a later answer) may sit in an earlier exchange.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from conformance.evidence_log import Event, Exchange
from conformance.redaction import Redactor

EVIDENCE_DIR = "evidence"
HARNESS_PHASE = "harness"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def check_stem(nodeid: str) -> str:
    """A file-name-safe, collision-free stem for a check: readable part + short hash of the node id."""
    tail = nodeid.split("/")[-1].replace(".py::", "--").replace("::", "--")
    readable = _UNSAFE.sub("_", tail).strip("_")[:100]
    digest = hashlib.sha256(nodeid.encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def phase_of(nodeid: str) -> str:
    """conformance/<phase>/test_x.py::test_y → <phase>; anything else counts as scenarios."""
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "conformance" else "scenarios"


def phase_dir(run_dir: Path, phase: str) -> Path:
    path = run_dir / EVIDENCE_DIR / phase
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_dir_of(pytest_config: Any) -> Path | None:
    """The run's folder inside a pytest process (the parent of --rtkc-results), if any."""
    results = pytest_config.getoption("--rtkc-results")
    return Path(results).parent if results else None


def write_evidence(
    path: Path, check: str | None, exchanges: list[Exchange], events: list[Event], redactor: Redactor
) -> None:
    document = {
        "check": check,
        "exchanges": [asdict(x) for x in exchanges],
        "events": [asdict(e) for e in events],
    }
    text = redactor.redact_text(json.dumps(document, ensure_ascii=False, indent=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_check_evidence(
    run_dir: Path, nodeid: str, exchanges: list[Exchange], events: list[Event], redactor: Redactor
) -> Path:
    path = phase_dir(run_dir, phase_of(nodeid)) / f"{check_stem(nodeid)}.json"
    write_evidence(path, nodeid, exchanges, events, redactor)
    return path


def files_for_check(run_dir: Path, nodeid: str) -> list[str]:
    """Every file filed for this check, relative to the run folder (POSIX separators)."""
    folder = run_dir / EVIDENCE_DIR / phase_of(nodeid)
    if not folder.is_dir():
        return []
    stem = check_stem(nodeid)
    return sorted(p.relative_to(run_dir).as_posix() for p in folder.glob(f"{stem}.*") if p.is_file())


def all_files(run_dir: Path) -> list[str]:
    root = run_dir / EVIDENCE_DIR
    if not root.is_dir():
        return []
    return sorted(p.relative_to(run_dir).as_posix() for p in root.rglob("*") if p.is_file())


def read_evidence(path: Path) -> tuple[list[Exchange], list[Event]]:
    """The exchanges and events of one evidence file the plugin wrote ([] for other files)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [], []
    if not isinstance(document, dict) or "exchanges" not in document:
        return [], []
    try:
        exchanges = [Exchange(**x) for x in document.get("exchanges", [])]
        events = [Event(**e) for e in document.get("events", [])]
    except TypeError:  # some phase's own JSON that merely looks alike: linked, not read
        return [], []
    return exchanges, events
