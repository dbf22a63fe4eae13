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
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from conformance import catalogue
from conformance.errors import CheckNotRunnable, ImplementationFailed, SuiteCouldNotRun

RESULT_KEY = "rtkc-result"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtimekit-conformance")
    group.addoption("--rtkc-config", default=None, help="target configuration TOML file")
    group.addoption("--rtkc-results", default=None, help="append one JSON line per check to this file")
    group.addoption(
        "--rtkc-reference-fault", action="append", default=[],
        help="start the embedded reference with this fault switched on (repeatable)",
    )
    group.addoption("--rtkc-requirements", default=None, help="comma-separated requirement IDs to run")
    group.addoption("--rtkc-profiles", default=None, help="comma-separated profiles (overrides the config)")


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


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
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
    decisive = report.when == "call" or (report.when == "setup" and not report.passed)
    if not decisive:
        return
    result, message = classify(call.excinfo if report.failed else None, report.skipped)
    known = catalogue.load()
    if result == "fail" and all(not known[rid].gating for rid in ids):
        result = "warning"
    record = {
        "nodeid": item.nodeid,
        "name": item.name,
        "requirements": ids,
        "outcome": result,
        "message": message,
        "duration": round(getattr(item, "_rtkc_started", 0) and time.monotonic() - item._rtkc_started, 3),  # type: ignore[attr-defined]
        "phase": item.nodeid.split("/")[1] if item.nodeid.startswith("conformance/") else "scenarios",
    }
    report.user_properties.append((RESULT_KEY, json.dumps(record)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    item._rtkc_started = time.monotonic()  # type: ignore[attr-defined]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Runs where results are gathered (the xdist controller, or the only process)."""
    for key, value in report.user_properties:
        if key == RESULT_KEY:
            _stream_path_write(value)


_RESULTS_PATH: Path | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _RESULTS_PATH
    path = session.config.getoption("--rtkc-results")
    _RESULTS_PATH = Path(path) if path else None


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
    try:
        await world.open()
        yield world
    finally:
        await world.close()
        if embedded is not None:
            embedded.stop()
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
