"""Runs of `conformance run` against the embedded reference, made once per test session and
read by every test that only reads what such a run printed and wrote.

A full clean run costs about a minute of two cores; five test files used to make their own.
`clean_run` is that run; `faulty_run` is one restricted run against the `ended_says_left` fault,
started from another working directory and compared with `clean_run`. Under pytest-xdist each
worker is its own process with its own session fixtures: the first worker to ask makes the run
under a file lock, the others read the folder it left (the pattern pytest-xdist documents).
A test that reads a shared run must not write into its folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.processes import isolated_env

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "conformance.cli"]
# A shared run is made inside the first test that asks for it (or waits for it under the lock):
# that test gets time for the run itself, on a busy machine.
SHARED_RUN_TIMEOUT = 900
SHARED_FIXTURES = {"clean_run", "faulty_run", "whole_selftest"}


@dataclass(frozen=True)
class Background:
    """A shared run started as soon as collection shows a test will read it, so that it runs
    beside the other tests instead of inside the first one that asks (which would hold an
    xdist worker while the run mostly waits on event windows)."""

    name: str  # its folder under the session's shared root
    args: tuple[str, ...]  # `conformance <args>`; {folder} is that folder
    timeout: float  # how long a reader waits for it
    run_dir: str = ""  # the run folder, inside its folder


BACKGROUND = {
    # The longest single piece of the session: a clean run and 79 fault runs, two at once.
    "whole_selftest": Background("selftest", ("selftest", "--json", "{folder}/kill-matrix.json"), 1200),
    # Read by most report tests; alone in its reports folder (so `latest` points at it).
    "clean_run": Background(
        "clean", ("run", "--reports-dir", "{folder}/reports", "--run-id", "clean"), 600, "reports/clean"
    ),
}


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


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _text(output: bytes | str | None) -> str:
    """What a timed-out child printed (bytes even when text was asked for)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole session: xdist workers' base temps are siblings under it."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-runs"
    root.mkdir(exist_ok=True)
    return root


def _write_record(record: Path, done: subprocess.CompletedProcess[str], run_dir: Path) -> None:
    saved = {"args": done.args, "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
    record.write_text(json.dumps({"process": saved, "run_dir": str(run_dir)}))


def _read_record(record: Path) -> Ran:
    saved = json.loads(record.read_text())
    return Ran(subprocess.CompletedProcess(**saved["process"]), Path(saved["run_dir"]))


def shared_run(root: Path, name: str, make: Callable[[Path], tuple[subprocess.CompletedProcess[str], Path]]) -> Ran:
    """`make(folder)` runs once per session under `root/name`; later callers read its record."""
    folder = root / name
    record = folder / "process.json"
    with _locked(root / f"{name}.lock"):
        if not record.exists():
            folder.mkdir(exist_ok=True)
            try:
                done, run_dir = make(folder)
            except subprocess.TimeoutExpired as exc:
                # Recorded like an exit: every test that reads this run fails at once with the
                # reason, instead of each one running it again until its own deadline.
                done, run_dir = subprocess.CompletedProcess(exc.cmd, -1, _text(exc.stdout), f"{exc}"), folder
            _write_record(record, done, run_dir)
    return _read_record(record)


def start_in_background(root: Path, run: Background) -> None:
    """Start `conformance <args>` once per session under `root/name` (the first caller starts
    it; later callers return at once). It records its exit code in `rc` when it ends."""
    name, args = run.name, run.args
    folder = root / name
    with _locked(root / f"{name}.lock"):
        if (folder / "pid").exists() or (folder / "process.json").exists():
            return
        folder.mkdir(exist_ok=True)
        command = shlex.join([*CLI, *(a.format(folder=folder) for a in args)])
        script = f"{command} > {shlex.quote(str(folder / 'stdout'))} 2> {shlex.quote(str(folder / 'stderr'))}"
        script += f"; echo $? > {shlex.quote(str(folder / 'rc'))}"
        child = subprocess.Popen(["sh", "-c", script], env=isolated_env(), start_new_session=True)
        (folder / "pid").write_text(str(child.pid))


def await_background(root: Path, run: Background) -> Ran:
    """The background run's record, once it has ended (its `rc` file appears), or an exit of -1
    with the reason when it has not ended within its timeout of this call."""
    name, timeout = run.name, run.timeout
    folder = root / name
    record = folder / "process.json"
    deadline = time.monotonic() + timeout
    while not (folder / "rc").exists() and not record.exists() and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for the run to end (a file appearing), with a deadline
    with _locked(root / f"{name}.lock"):
        if not record.exists():
            read = {n: (folder / n).read_text() if (folder / n).exists() else "" for n in ("stdout", "stderr", "rc")}
            code = int(read["rc"]) if read["rc"].strip() else -1
            stderr = read["stderr"] if read["rc"].strip() else f"not finished within {timeout:g}s\n{read['stderr']}"
            _write_record(record, subprocess.CompletedProcess(name, code, read["stdout"], stderr), folder / run.run_dir)
    return _read_record(record)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    wanted = {name for item in session.items for name in getattr(item, "fixturenames", ()) if name in BACKGROUND}
    if not wanted:
        return
    root = _shared_root(session.config._tmp_path_factory)  # type: ignore[attr-defined]
    for fixture in sorted(wanted):
        start_in_background(root, BACKGROUND[fixture])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The process that ends last (the xdist controller, or the only one) stops a background run
    that no test waited for (a session cut short), so nothing runs on after it."""
    if hasattr(session.config, "workerinput") or not hasattr(session.config, "_tmp_path_factory"):
        return
    root = _shared_root(session.config._tmp_path_factory)  # type: ignore[attr-defined]
    for run in BACKGROUND.values():
        pid, rc = root / run.name / "pid", root / run.name / "rc"
        if pid.exists() and not rc.exists():
            with suppress(ProcessLookupError, PermissionError, ValueError):
                os.killpg(int(pid.read_text()), signal.SIGTERM)


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """A full run against the clean embedded reference (every phase, every profile), alone in
    its reports folder (so `latest` points at it); started in the background (BACKGROUND)."""
    root = _shared_root(tmp_path_factory)
    start_in_background(root, BACKGROUND["clean_run"])  # already started unless collection was skipped
    return await_background(root, BACKGROUND["clean_run"])


# The faulty run's selection: END-02 fails under the fault (a scenario and a model-phase check);
# END-06 passes under it. Typed lower case, as a user may.
FAULTY_SELECTION = ("--requirement", "end-02", "--requirement", "END-06")


@pytest.fixture(scope="session")
def faulty_run(tmp_path_factory: pytest.TempPathFactory, clean_run: Ran) -> Ran:
    """`ended_says_left`, END-02 and END-06, one worker, asked to compare with `clean_run` (another
    target, another selection), started from a folder outside the checkout as after a wheel
    install. Exit 1 expected; each test asserts what it relies on."""

    def make(folder: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
        elsewhere = folder / "cwd"
        elsewhere.mkdir()
        args = ["run", "--reports-dir", str(folder / "reports"), "--run-id", "faulty", "--workers", "1"]
        args += ["--reference-fault", "ended_says_left", *FAULTY_SELECTION, "--compare", str(clean_run.run_dir)]
        done = conformance(*args, env=isolated_env(PYTHONPATH=str(REPO)), cwd=elsewhere, timeout=600)
        return done, folder / "reports" / "faulty"

    return shared_run(_shared_root(tmp_path_factory), "faulty", make)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (the README's command) means twice the cores, at most 8: the long tests are
    end-to-end runs that mostly wait on event windows, and two cores' worth of workers left the
    cores idle for much of the session (bench/test_time.py on 2 cores: 7.3 min with 2 workers;
    4.9 min with 4, the slow tests first and the clean run in the background)."""
    return max(2, min(2 * (os.cpu_count() or 1), 8))


def pytest_configure(config: pytest.Config) -> None:
    # xdist's `load` scheduling first hands each worker a quarter of its share in one block: the
    # first worker got every `slow` test and ran them one after another (measured: 10 min). In
    # steps of one (two queued per worker), they spread over the workers.
    if getattr(config.option, "maxschedchunk", "absent") is None:
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SHARED_RUN_TIMEOUT))
    # The long tests first (marked `slow`: end-to-end runs that mostly wait on event windows):
    # xdist hands tests out in this order, so they start at once side by side instead of one
    # of them starting last and running alone. A stable sort, the same in every worker.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
