"""Each check's outcome, in the verdict's words, and what is kept of it.

A check's outcome is classified with the suite's error tree (fail = the implementation broke a
requirement; error / not run = the suite could not tell), softened to a warning where every
requirement it checks is a SHOULD, and written, with the list of its evidence files, as one
JSON line to the results stream that every report reads. With --rtkc-progress the suite
prints one line per check in those words instead of pytest's.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conformance import catalogue
from conformance.client import TargetDown
from conformance.errors import CheckNotRunnable, ImplementationFailed, SuiteCouldNotRun
from conformance.outcomes import Outcome, word
from conformance.plugin.state import EVIDENCE, FILED, MARKER, PROGRESS, RECORD, RESULTS, STARTED, requirement_ids
from conformance.reports.evidence_files import phase_of

RESULT_KEY = "rtkc-result"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtimekit-conformance")
    group.addoption("--rtkc-results", default=None, help="append one JSON line per check to this file")
    group.addoption(
        "--rtkc-progress",
        action="store_true",
        help="one line per check in the verdict's words (pass, FAIL, NOT RUN, ERROR), named by requirement",
    )


# -- outcomes ------------------------------------------------------------------------------


def classify(excinfo: pytest.ExceptionInfo[BaseException] | None, skipped: bool) -> tuple[Outcome, str]:
    """(outcome, one-line message) for one check, before SHOULD-level softening."""
    if skipped:
        return Outcome.NOT_RUN, "skipped: a claimed check that does not run is not a pass"
    if excinfo is None:
        return Outcome.PASS, ""
    exc = excinfo.value
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CheckNotRunnable):
        return Outcome.NOT_RUN, message
    if isinstance(exc, SuiteCouldNotRun):
        return Outcome.ERROR, message
    if isinstance(exc, ImplementationFailed | AssertionError):
        return Outcome.FAIL, message
    if type(exc).__name__ == "Failed" and "Timeout" in message:
        return Outcome.ERROR, f"the check exceeded its deadline: {message[:300]}"
    return Outcome.ERROR, f"suite error ({type(exc).__name__}): {message[:500]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    ids = requirement_ids(item)
    if not ids:
        return
    if report.when == "teardown" and RECORD in item.stash:
        # Emitted after teardown, so the evidence file also holds the check's cleanup.
        record = item.stash[RECORD]
        record["evidence"] = _file_evidence(item.config, item.nodeid)
        report.user_properties.append((RESULT_KEY, json.dumps(record)))
        return
    decisive = report.when == "call" or (report.when == "setup" and not report.passed)
    if not decisive:
        return
    result, message = classify(call.excinfo if report.failed else None, report.skipped)
    if call.excinfo is not None and isinstance(call.excinfo.value, TargetDown):
        # The target stopped answering: stop here with one clear reason, not a hundred errors.
        item.session.shouldstop = str(call.excinfo.value)
    known = catalogue.load()
    if result == Outcome.FAIL and all(not known[rid].gating for rid in ids):
        result = Outcome.WARNING
    log = item.config.stash.get(EVIDENCE, None)
    started = item.stash.get(STARTED, None)
    item.stash[RECORD] = {
        "nodeid": item.nodeid,
        "name": item.name,
        "requirements": ids,
        "profile": ",".join(dict.fromkeys(known[rid].profile for rid in ids)),
        "outcome": result,
        "message": log.redactor.redact_text(message) if log is not None else message,
        "duration": round(time.monotonic() - started, 3) if started is not None else 0,
        "phase": phase_of(item.nodeid),
        # When the outcome was decided: evidence after it is the check's cleanup.
        "decided_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "evidence": [],
    }


def _file_evidence(config: pytest.Config, nodeid: str) -> list[str]:
    """Write this check's exchanges and events under evidence/; every file filed for it."""
    from conformance.reports import evidence_files as files

    run_dir = files.run_dir_of(config)
    if run_dir is None:
        return []
    log = config.stash.get(EVIDENCE, None)
    if log is not None:
        files.write_check_evidence(run_dir, nodeid, log.for_check(nodeid), log.events_for_check(nodeid), log.redactor)
        config.stash[FILED].add(nodeid)
    return files.files_for_check(run_dir, nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Evidence recorded outside any check (preset setup, teardown) goes to evidence/harness/."""
    from conformance.reports import evidence_files as files

    log = session.config.stash.get(EVIDENCE, None)
    run_dir = files.run_dir_of(session.config)
    if log is None or run_dir is None:
        return
    filed = session.config.stash[FILED]
    exchanges = [x for x in log.exchanges if x.check not in filed]
    events = [e for e in log.events if e.check not in filed]
    if exchanges or events:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        path = files.phase_dir(run_dir, files.HARNESS_PHASE) / f"{worker}.json"
        files.write_evidence(path, None, exchanges, events, log.redactor)


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[STARTED] = time.monotonic()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_ResultsWriter(config), "rtkc-results-writer")


class _ResultsWriter:
    """Writes each check's line where results are gathered (the xdist controller, or the only
    process). A plugin object, because pytest_runtest_logreport is given no config."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RESULT_KEY:
                _stream_write(self.config.stash.get(RESULTS, None), value)
                _progress_line(self.config.stash.get(PROGRESS, None), json.loads(value))


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    path = config.getoption("--rtkc-results")
    # xdist workers also see their own reports; only the controller (or a lone process) writes.
    is_worker = hasattr(config, "workerinput")
    config.stash[RESULTS] = Path(path) if path and not is_worker else None
    progress = config.getoption("--rtkc-progress") and not is_worker
    config.stash[PROGRESS] = config.pluginmanager.get_plugin("terminalreporter") if progress else None
    config.stash[FILED] = set()


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """With --rtkc-progress, pytest's own words (FAILED for a check that could not run,
    "errors" next to a verdict of FAIL) stay out of the output: the suite prints its own line."""
    if not config.getoption("--rtkc-progress") or MARKER not in report.keywords:
        return None
    return ("rtkc", "", "")


def _progress_line(progress: Any, record: dict[str, Any]) -> None:
    if progress is None:
        return
    from conformance.reports.names import check_name

    name = check_name(record["nodeid"], record["requirements"])
    progress.write_line(f"{word(record['outcome']):<8} {name} ({record['duration']:.1f}s)")


def _stream_write(path: Path | None, line: str) -> None:
    if path is None:
        return
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
