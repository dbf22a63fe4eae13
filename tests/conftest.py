"""Runs made once per test session and read by every test that only reads what such a run
printed and wrote: a clean `conformance run`, a faulty one, and the whole selftest.

A full clean run costs about a minute of two cores; five test files used to make their own.
`clean_run` is that run; `faulty_run` is one restricted run against the `ended_says_left` fault,
started from another working directory and compared with `clean_run`. Each starts in the
background as soon as collection shows a test will read it (tests/background.py); under
pytest-xdist the first worker to get there starts it and any worker may wait for it. A test
that reads a shared run must not write into its folder.
"""

from __future__ import annotations

import compileall
import gc
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The background machinery is also a plugin (tests marked `background` run in their own pytest
# process); marked for rewriting before this file imports it, as pytest does for its plugins.
pytest.register_assert_rewrite("tests.background")
pytest_plugins = ["tests.background", "pytester"]

from tests.background import Background, shared_root, start, stop_unfinished, wait  # noqa: E402
from tests.processes import isolated_env  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "conformance.cli"]
# A test that reads a shared run may wait for all of it, on a busy machine.
SHARED_RUN_TIMEOUT = 900


# The faulty run's selection: END-02 fails under the fault (a scenario and a model-phase check);
# END-06 passes under it. Typed lower case, as a user may.
FAULTY_SELECTION = ("--requirement", "end-02", "--requirement", "END-06")

# `ended_says_left`, END-02 and END-06, one worker, asked to compare with the clean run (another
# target, another selection), started from a folder outside the checkout as after a wheel
# install. It follows the clean run in the background: made by the first test that asked, it
# held three workers for ~20 s (they all waited for it).
FAULTY_RUN = Background(
    "faulty",
    (
        *("env", f"PYTHONPATH={REPO}", *CLI, "run", "--reports-dir", "{folder}/reports", "--run-id", "faulty"),
        *("--workers", "1", "--reference-fault", "ended_says_left", *FAULTY_SELECTION),
        *("--compare", "{root}/clean/reports/clean"),
    ),
    900,
    "reports/faulty",
    cwd="cwd",
)

BACKGROUND = {
    # The longest single piece of the session: a clean run and 79 fault runs. Four at once (the
    # default is three): with the clean run in one slot, two slots of fault runs ended ~40 s after
    # the rest of the session (bench/test_time.py); the fault runs mostly wait on event windows.
    "whole_selftest": Background(
        "selftest", (*CLI, "selftest", "--parallel", "4", "--json", "{folder}/kill-matrix.json"), 1200
    ),
    # Read by most report tests; alone in its reports folder (so `latest` points at it).
    "clean_run": Background(
        "clean",
        (*CLI, "run", "--reports-dir", "{folder}/reports", "--run-id", "clean"),
        600,
        "reports/clean",
        then=FAULTY_RUN,
    ),
    "faulty_run": FAULTY_RUN,
}
# The fixtures that read a shared run: one per background run.
SHARED_FIXTURES = frozenset(BACKGROUND)


@dataclass(frozen=True)
class Ran:
    """A finished `conformance run`: what it printed, its exit code, and its run folder."""

    done: subprocess.CompletedProcess[str]
    run_dir: Path

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.run_dir / "results.jsonl").read_text().splitlines()]

    def output_tail(self) -> str:
        return self.done.stdout[-3000:] + self.done.stderr[-3000:]


def conformance(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env or isolated_env(), cwd=cwd, check=False
    )


def read_background(tmp_path_factory: pytest.TempPathFactory, run: Background) -> Ran:
    """A shared run started in the background, once it has ended."""
    root = shared_root(tmp_path_factory)
    start(root, run, isolated_env())  # already started unless collection was skipped
    ended = wait(root, run)
    return Ran(ended.done, ended.folder / run.run_dir)


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """A full run against the clean embedded reference (every phase, every profile), alone in
    its reports folder (so `latest` points at it); started in the background (BACKGROUND)."""
    return read_background(tmp_path_factory, BACKGROUND["clean_run"])


@pytest.fixture(scope="session")
def faulty_run(tmp_path_factory: pytest.TempPathFactory, clean_run: Ran) -> Ran:
    """The faulty run (FAULTY_RUN): exit 1 expected; each test asserts what it relies on."""
    return read_background(tmp_path_factory, BACKGROUND["faulty_run"])


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (the README's command) means twice the cores, at most 8: even with the tests that
    mostly wait in the background (tests/background.py), many of the rest wait on a child process
    or a deadline. Measured on 2 cores, fresh checkouts (the whole session, bench/test_time.py and
    .ci/run): 3 workers 231-249 s, 7.2-7.7 CPU-min, cores partly idle late in the session; 4
    workers 224-238 s, 7.3-7.7 CPU-min, the cores busy to the end."""
    return max(2, min(2 * (os.cpu_count() or 1), 8))


def pytest_configure(config: pytest.Config) -> None:
    # xdist's `load` scheduling first hands each worker a quarter of its share in one block: the
    # first worker got every `slow` test and ran them one after another (measured: 10 min). In
    # steps of one (two queued per worker), they spread over the workers.
    if getattr(config.option, "maxschedchunk", "absent") is None:
        config.option.maxschedchunk = 1
    if not hasattr(config, "workerinput"):
        # The package's bytecode, compiled once, as pip compiles what it installs (an editable
        # install compiles nothing). Where PYTHONDONTWRITEBYTECODE is set (this machine), each of
        # the session's ~190 processes that import it compiled it again: measured ~0.065 CPU-s a
        # process. __pycache__ is git-ignored.
        compileall.compile_dir(REPO / "conformance", quiet=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        shared = SHARED_FIXTURES & set(getattr(item, "fixturenames", ()))
        if shared and item.get_closest_marker("background"):
            raise pytest.UsageError(f"{item.nodeid}: a background test cannot read {sorted(shared)}")
        if shared and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SHARED_RUN_TIMEOUT))
    # xdist hands tests out in this order (a stable sort, the same in every worker):
    # - the long tests first (marked `slow`), longest first, so that none of them starts last
    #   and runs alone, and the quick ones fill the end (measured: the secrets test, handed out
    #   after shorter slow tests, ran alone for the last 40 s of a session);
    # - the `background` tests last: they have been running in their own processes since
    #   collection (tests/background.py), and their items only wait for the outcome.
    items.sort(key=lambda item: (bool(item.get_closest_marker("background")), -_declared_seconds(item)))


def _declared_seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return float(marker.args[0]) if marker and marker.args else (5.0 if marker else 0.0)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the shared runs this session will read."""
    if session.config.option.collectonly:
        return
    root = shared_root(session.config._tmp_path_factory)  # type: ignore[attr-defined]
    wanted = {name for item in session.items for name in getattr(item, "fixturenames", ()) if name in BACKGROUND}
    for fixture in sorted(wanted):
        start(root, BACKGROUND[fixture], isolated_env())
    # What collection loaded lives as long as the test process: out of the collector's sight,
    # the full collections during ~900 tests no longer walk it (as the engine does, plugin/).
    gc.freeze()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The process that ends last (the xdist controller, or the only one) stops background work
    that no test waited for (a session cut short), so nothing runs on after it."""
    if hasattr(session.config, "workerinput") or not hasattr(session.config, "_tmp_path_factory"):
        return
    stop_unfinished(shared_root(session.config._tmp_path_factory))  # type: ignore[attr-defined]
