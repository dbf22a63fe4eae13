"""The pytest plugin: pytest is the suite's engine, `conformance run` its friendly face.

It turns scenario tests into checks: each test carries `@pytest.mark.requirement("END-02")`,
tests of profiles the target does not claim are deselected, and every check's outcome is
classified with the suite's error tree (fail = the implementation broke a requirement;
error / not run = the suite could not tell) and written as one JSON line to the results
stream that every report reads. The fixtures `harness` and `scenario` give tests the world.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from conformance import catalogue
from conformance.client import TargetDown
from conformance.errors import CheckNotRunnable, ImplementationFailed, SuiteCouldNotRun

RESULT_KEY = "rtkc-result"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtimekit-conformance")
    group.addoption("--rtkc-config", default=None, help="target configuration TOML file")
    group.addoption("--rtkc-results", default=None, help="append one JSON line per check to this file")
    group.addoption(
        "--rtkc-reference-fault",
        action="append",
        default=[],
        help="start the embedded reference with this fault switched on (repeatable)",
    )
    group.addoption("--rtkc-requirements", default=None, help="comma-separated requirement IDs to run")
    group.addoption("--rtkc-profiles", default=None, help="comma-separated profiles (overrides the config)")
    group.addoption("--rtkc-collected", default=None, help="write the selected checks here as JSON lines (--list)")
    group.addoption("--rtkc-shuffle", type=int, default=None, help="run the checks in a random order from this seed")
    group.addoption(
        "--rtkc-progress",
        action="store_true",
        help="one line per check in the verdict's words (pass, FAIL, NOT RUN, ERROR), named by requirement",
    )
    group.addoption(
        "--rtkc-campaign-first",
        action="store_true",
        help="under xdist, give the fuzz campaign a worker before anything else (scheduling.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): requirement IDs this check verifies")


def _requirement_ids(item: pytest.Item) -> list[str]:
    return [rid for mark in item.iter_markers("requirement") for rid in mark.args]


def _overrides(config: pytest.Config) -> dict[str, object]:
    profiles = config.getoption("--rtkc-profiles")
    return {"target.profiles": profiles.split(",")} if profiles else {}


def _claimed_profiles(config: pytest.Config) -> tuple[str, ...]:
    cached = getattr(config, "_rtkc_profiles", None)
    if cached is None:
        from conformance.config import load_config

        path = config.getoption("--rtkc-config")
        cached = load_config(Path(path) if path else None, os.environ, _overrides(config)).target.profiles
        config._rtkc_profiles = cached  # type: ignore[attr-defined]
    return cached


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if not config.getoption("--rtkc-campaign-first"):
        return None  # anyone else's pytest run keeps its own scheduling
    from conformance.scheduling import CampaignFirstScheduling

    return CampaignFirstScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption("--rtkc-shuffle")
    if seed is not None:
        # The flake gate: the same checks in another order must give the same outcomes.
        random.Random(seed).shuffle(items)
    checks = [item for item in items if item.get_closest_marker("requirement")]
    if not checks:
        return
    known = catalogue.load()
    wanted = config.getoption("--rtkc-requirements")
    wanted_ids = set(wanted.split(",")) if wanted else None
    profiles = _claimed_profiles(config)
    keep, drop = [], []
    for item in items:
        ids = _requirement_ids(item)
        if not ids:
            keep.append(item)
            continue
        for rid in ids:
            try:
                known[rid]
            except KeyError:
                raise pytest.UsageError(f"{item.nodeid}: requirement {rid} is not in the catalogue") from None
        claimed = all(known[rid].profile in profiles for rid in ids)
        selected = wanted_ids is None or bool(wanted_ids & set(ids))
        (keep if claimed and selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# -- outcomes ------------------------------------------------------------------------------


def classify(excinfo: pytest.ExceptionInfo[BaseException] | None, skipped: bool) -> tuple[str, str]:
    """(outcome, one-line message) for one check, before SHOULD-level softening."""
    if skipped:
        return "not_run", "skipped: a claimed check that does not run is not a pass"
    if excinfo is None:
        return "pass", ""
    exc = excinfo.value
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CheckNotRunnable):
        return "not_run", message
    if isinstance(exc, SuiteCouldNotRun):
        return "error", message
    if isinstance(exc, ImplementationFailed | AssertionError):
        return "fail", message
    if type(exc).__name__ == "Failed" and "Timeout" in message:
        return "error", f"the check exceeded its deadline: {message[:300]}"
    return "error", f"suite error ({type(exc).__name__}): {message[:500]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    ids = _requirement_ids(item)
    if not ids:
        return
    if report.when == "teardown" and hasattr(item, "_rtkc_record"):
        # Emitted after teardown, so the evidence file also holds the check's cleanup.
        record = item._rtkc_record  # type: ignore[attr-defined]
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
    if result == "fail" and all(not known[rid].gating for rid in ids):
        result = "warning"
    log = getattr(item.config, "_rtkc_evidence", None)
    item._rtkc_record = {  # type: ignore[attr-defined]
        "nodeid": item.nodeid,
        "name": item.name,
        "requirements": ids,
        "profile": ",".join(dict.fromkeys(known[rid].profile for rid in ids)),
        "outcome": result,
        "message": log.redactor.redact_text(message) if log is not None else message,
        "duration": round(getattr(item, "_rtkc_started", 0) and time.monotonic() - item._rtkc_started, 3),  # type: ignore[attr-defined]
        "phase": item.nodeid.split("/")[1] if item.nodeid.startswith("conformance/") else "scenarios",
        # When the outcome was decided: evidence after it is the check's cleanup.
        "decided_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "evidence": [],
    }


def _file_evidence(config: pytest.Config, nodeid: str) -> list[str]:
    """Write this check's exchanges and events under evidence/; every file filed for it."""
    from conformance.reports import evidence as files

    run_dir = files.run_dir_of(config)
    if run_dir is None:
        return []
    log = getattr(config, "_rtkc_evidence", None)
    if log is not None:
        files.write_check_evidence(run_dir, nodeid, log.for_check(nodeid), log.events_for_check(nodeid), log.redactor)
        config._rtkc_filed.add(nodeid)  # type: ignore[attr-defined]
    return files.files_for_check(run_dir, nodeid)


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption("--rtkc-collected")
    if not path:
        return
    known = catalogue.load()
    with Path(path).open("w", encoding="utf-8") as fh:
        for item in session.items:
            ids = _requirement_ids(item)
            if ids:
                profiles = ",".join(dict.fromkeys(known[rid].profile for rid in ids))
                fh.write(json.dumps({"nodeid": item.nodeid, "requirements": ids, "profile": profiles}) + "\n")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Evidence recorded outside any check (preset setup, teardown) goes to evidence/harness/."""
    from conformance.reports import evidence as files

    log = getattr(session.config, "_rtkc_evidence", None)
    run_dir = files.run_dir_of(session.config)
    if log is None or run_dir is None:
        return
    filed = session.config._rtkc_filed  # type: ignore[attr-defined]
    exchanges = [x for x in log.exchanges if x.check not in filed]
    events = [e for e in log.events if e.check not in filed]
    if exchanges or events:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        path = files.phase_dir(run_dir, files.HARNESS_PHASE) / f"{worker}.json"
        files.write_evidence(path, None, exchanges, events, log.redactor)


def pytest_runtest_setup(item: pytest.Item) -> None:
    item._rtkc_started = time.monotonic()  # type: ignore[attr-defined]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Runs where results are gathered (the xdist controller, or the only process)."""
    for key, value in report.user_properties:
        if key == RESULT_KEY:
            _stream_path_write(value)
            _progress_line(json.loads(value))


_RESULTS_PATH: Path | None = None
_PROGRESS: Any = None  # the terminal reporter, when --rtkc-progress asks for the suite's own lines


def pytest_sessionstart(session: pytest.Session) -> None:
    global _RESULTS_PATH, _PROGRESS
    path = session.config.getoption("--rtkc-results")
    # xdist workers also see their own reports; only the controller (or a lone process) writes.
    is_worker = hasattr(session.config, "workerinput")
    _RESULTS_PATH = Path(path) if path and not is_worker else None
    progress = session.config.getoption("--rtkc-progress") and not is_worker
    _PROGRESS = session.config.pluginmanager.get_plugin("terminalreporter") if progress else None


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """With --rtkc-progress, pytest's own words (FAILED for a check that could not run,
    "errors" next to a verdict of FAIL) stay out of the output: the suite prints its own line."""
    if not config.getoption("--rtkc-progress") or "requirement" not in report.keywords:
        return None
    return ("rtkc", "", "")


def _progress_line(record: dict[str, Any]) -> None:
    if _PROGRESS is None:
        return
    from conformance.reports.names import check_name
    from conformance.verdict import SYMBOL

    word = SYMBOL.get(record["outcome"], record["outcome"])
    name = check_name(record["nodeid"], record["requirements"])
    _PROGRESS.write_line(f"{word:<8} {name} ({record['duration']:.1f}s)")


def _stream_path_write(line: str) -> None:
    if _RESULTS_PATH is None:
        return
    with _RESULTS_PATH.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


# -- fixtures ------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def harness(pytestconfig: pytest.Config) -> AsyncIterator[Any]:
    from conformance.harness import Harness
    from conformance.target import resolve

    path = pytestconfig.getoption("--rtkc-config")
    faults = tuple(pytestconfig.getoption("--rtkc-reference-fault"))
    config, embedded = resolve(Path(path) if path else None, _overrides(pytestconfig), faults)
    world = Harness(config)
    # The plugin's hooks file each check's evidence from this log (see _file_evidence).
    pytestconfig._rtkc_evidence = world.evidence  # type: ignore[attr-defined]
    pytestconfig._rtkc_filed = set()  # type: ignore[attr-defined]
    try:
        await world.open()
        yield world
    finally:
        await world.close()
        if embedded is not None:
            embedded.stop()
        _write_traffic(pytestconfig, world)
        if world.ledger.left_behind:
            print("\nleft behind on the target:\n  " + "\n  ".join(world.ledger.left_behind))


@pytest_asyncio.fixture(loop_scope="session")
async def scenario(harness: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    from conformance.evidence import current_check
    from conformance.harness import Scenario

    token = current_check.set(request.node.nodeid)
    world = Scenario(harness, request.node.name)
    try:
        yield world
    finally:
        await world.cleanup()
        current_check.reset(token)


def _write_traffic(config: pytest.Config, world: Any) -> None:
    """This process's request counts (429s apart) and leftovers, for the run summary."""
    results = config.getoption("--rtkc-results")
    if not results:
        return
    folder = Path(results).parent / "traffic"
    folder.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (folder / f"{worker}.json").write_text(
        json.dumps(
            {
                "requests": world.api.stats.attempts,
                "throttled": world.api.stats.throttled,
                "rate_limit_waits": world.limiter.stats.waits,
                "rate_limit_waited_seconds": round(world.limiter.stats.waited_seconds, 3),
                "left_behind": world.ledger.left_behind,
            }
        ),
        encoding="utf-8",
    )
