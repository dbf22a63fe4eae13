"""Work that starts with the session and is read when a test needs it (a pytest plugin, loaded
by tests/conftest.py).

Each piece of work is a detached process with a folder under the session's shared root (its
output, its exit code in `rc`); the first test process to get there starts it, under a lock, and
any test process may wait for it. Two kinds use this:

- shared runs (conftest.BACKGROUND: the clean run, the selftest), read by many tests;
- whole tests marked `background`: end-to-end tests that mostly wait on a target's real-time
  windows (a full run against an external target: ~150 s at a fifth of a core). Under
  pytest-xdist each held a worker all that time while hundreds of quick tests queued behind them
  (bench/test_time.py with a busy-core timeline: for ~70 s one core of two stood idle, all four
  workers waiting). Under xdist each such test now runs in its own pytest process from the
  start of the session; its item, handed out last, reports that process's outcome under the
  test's own id. Without xdist (`-p no:xdist`, a single test) it runs in place as before.

A background test may not use the shared runs: its own pytest process would make them again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

# Set in a background test's own pytest process: there the test runs as written.
IN_BACKGROUND = "RTKC_TESTS_IN_BACKGROUND"
# How long an item waits for its background test when the test has no timeout marker.
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Background:
    """A process started as soon as collection shows a test will read it, so that it runs beside
    the other tests instead of inside the first one that asks."""

    name: str  # its folder under the session's shared root
    command: tuple[str, ...]  # {folder} is that folder, {root} the shared root
    timeout: float  # how long a reader waits for it
    run_dir: str = ""  # the run folder, inside its folder
    cwd: str = ""  # a folder inside its folder to start in; "" = where the session started
    # Started by the same script once this one has ended (it reads what this one wrote):
    # waiting for it then holds no test process.
    then: Background | None = None


@dataclass(frozen=True)
class Ended:
    """What a background process left: its exit code (-1: not ended in time) and output."""

    done: subprocess.CompletedProcess[str]
    folder: Path


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole session: xdist workers' base temps are siblings under it."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-runs"
    root.mkdir(exist_ok=True)
    return root


def _script(root: Path, run: Background) -> str:
    """The shell lines that run it (and what follows it) and record each exit code in `rc`."""
    folder = root / run.name
    folder.mkdir(exist_ok=True)
    command = shlex.join([part.format(folder=folder, root=root) for part in run.command])
    output = f"> {shlex.quote(str(folder / 'stdout'))} 2> {shlex.quote(str(folder / 'stderr'))}"
    if run.cwd:
        (folder / run.cwd).mkdir(exist_ok=True)
        command = f"(cd {shlex.quote(str(folder / run.cwd))} && {command})"
    script = f"{command} {output}; echo $? > {shlex.quote(str(folder / 'rc'))}"
    return script if run.then is None else f"{script}; {_script(root, run.then)}"


def start(root: Path, run: Background, env: Mapping[str, str], cwd: Path | None = None) -> None:
    """Start `run.command` once per session under `root/name` (the first caller starts it; later
    callers return at once). It records its exit code in `rc` when it ends."""
    with locked(root / f"{run.name}.lock"):
        if (root / run.name / "pid").exists() or (root / run.name / "rc").exists():
            return
        child = subprocess.Popen(["sh", "-c", _script(root, run)], env=dict(env), cwd=cwd, start_new_session=True)
        chain: Background | None = run
        while chain is not None:  # what follows is started: its own start() must not start it again
            (root / chain.name / "pid").write_text(str(child.pid))
            chain = chain.then


def wait(root: Path, run: Background) -> Ended:
    """What the process left once it has ended (its `rc` file appears), or an exit of -1 with
    the reason when it has not ended within its timeout of this call."""
    folder = root / run.name
    timeout = run.timeout
    deadline = time.monotonic() + timeout
    while not (folder / "rc").exists() and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for the process to end (a file appearing), with a deadline
    read = {n: (folder / n).read_text() if (folder / n).exists() else "" for n in ("stdout", "stderr", "rc")}
    ended = bool(read["rc"].strip())
    stderr = read["stderr"] if ended else f"not finished within {timeout:g}s\n{read['stderr']}"
    done = subprocess.CompletedProcess(list(run.command), int(read["rc"]) if ended else -1, read["stdout"], stderr)
    return Ended(done, folder)


def stop_unfinished(root: Path) -> None:
    """Stop every background process of the session that has not ended (a session cut short)."""
    for pid in root.glob("*/pid"):
        if not (pid.parent / "rc").exists():
            with suppress(ProcessLookupError, PermissionError, ValueError):
                os.killpg(int(pid.read_text()), signal.SIGTERM)


# -- whole tests in the background -------------------------------------------------------------


def _background_test(nodeid: str, timeout: float) -> Background:
    digest = hashlib.sha256(nodeid.encode()).hexdigest()[:12]
    pytest_args = ("-q", "-p", "no:xdist", "--junitxml", "{folder}/junit.xml", "--basetemp", "{folder}/tmp")
    return Background(f"test-{digest}", (sys.executable, "-m", "pytest", nodeid, *pytest_args), timeout)


def _timeout(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker and marker.args else DEFAULT_TIMEOUT


class InBackground(pytest.Item):
    """Stands in for a `background` test under xdist: its run is that test's own pytest process,
    started at collection; this item waits for it and reports its outcome. None of the test's
    fixtures are set up here (a server it starts runs only in that process)."""

    def __init__(self, *, test: pytest.Item, **kwargs) -> None:
        super().__init__(**kwargs)
        self.test = test
        self.run = _background_test(test.nodeid, _timeout(test))
        self.own_markers.extend(test.own_markers)  # its timeout applies to the wait; sorting reads them

    def reportinfo(self):
        return self.test.reportinfo()

    def start(self) -> Path:
        """Start the test's own pytest process (once a session), from the root its node id
        names; the session's shared root."""
        root = shared_root(self.config._tmp_path_factory)  # type: ignore[attr-defined]
        start(root, self.run, _child_env(), cwd=self.config.rootpath)
        return root

    def runtest(self) -> None:
        root = self.start()  # already started unless collection was skipped
        _report(self.test.nodeid, wait(root, self.run))


def _report(nodeid: str, ended: Ended) -> None:
    """Pass, or fail or skip with the background test's own words."""
    junit = ended.folder / "junit.xml"
    cases = ET.parse(junit).getroot().iter("testcase") if junit.exists() else iter(())
    name = nodeid.rsplit("::", 1)[-1]
    case = next((c for c in cases if c.get("name") == name), None)
    if case is None:
        tail = (ended.done.stdout[-3000:] + ended.done.stderr[-3000:]).strip()
        pytest.fail(f"its own pytest process (exit {ended.done.returncode}) reported no result:\n{tail}", pytrace=False)
    for kind in ("failure", "error"):
        for found in case.iter(kind):
            pytest.fail(f"{kind} in its own pytest process:\n{found.text or found.get('message', '')}", pytrace=False)
    for found in case.iter("skipped"):
        pytest.skip(found.get("message", "skipped in the test's own pytest process"))


def _under_xdist() -> bool:
    return bool(os.environ.get("PYTEST_XDIST_WORKER")) and not os.environ.get(IN_BACKGROUND)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not _under_xdist():
        return
    items[:] = [
        InBackground.from_parent(item.parent, name=item.name, test=item)
        if item.get_closest_marker("background")
        else item
        for item in items
    ]


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    return {**env, IN_BACKGROUND: "1"}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start each stand-in's test in its own pytest process."""
    if session.config.option.collectonly:
        return
    for item in session.items:
        if isinstance(item, InBackground):
            item.start()
