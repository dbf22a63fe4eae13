"""conformance/forkserver.py: a forked engine is the run's own process, as `subprocess.run` of
`python -m pytest` would start it: its environment, working folder, log and exit code, and its
deadline. (That the selftest's verdicts are the same is tests/test_selftest.py's whole run.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.forkserver import ForkServer

REPO = Path(__file__).resolve().parent.parent

SAMPLE = """
import os, sys, time
from pathlib import Path

def test_reports_where_it_runs():
    Path("seen.txt").write_text(os.environ["RUN_MARK"] + "|" + os.getcwd())
    print("written to the run's log")
    assert os.environ.get("RTKC_SERVER_ONLY") is None  # the run's environment, not the server's

def test_fails():
    assert False

def test_sleeps():
    Path("pid").write_text(str(os.getpid()))
    time.sleep(60)
"""


def _pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider", "--disable-plugin-autoload"]


@pytest.fixture
def engines():
    env = {**os.environ, "RTKC_SERVER_ONLY": "1"}
    with ForkServer(env) as server:
        yield server


def test_a_forked_engine_has_the_runs_environment_folder_log_and_exit_code(engines, tmp_path: Path, monkeypatch):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTKC_")} | {"RUN_MARK": "run-1"}
    log = tmp_path / "engine.log"
    code = engines.run(_pytest("test_sample.py::test_reports_where_it_runs", "-s"), env, 60, log)
    assert code == 0, log.read_text()
    assert (tmp_path / "seen.txt").read_text() == f"run-1|{tmp_path}"
    assert "written to the run's log" in log.read_text()
    failing = engines.run(_pytest("test_sample.py::test_fails"), env, 60, tmp_path / "failing.log")
    assert failing == 1


@pytest.mark.slow(10)
def test_an_engine_past_its_deadline_is_killed(engines, tmp_path: Path, monkeypatch):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(subprocess.TimeoutExpired):
        # Waiting out the 5 s deadline this run is given: the behaviour under test.
        engines.run(_pytest("test_sample.py::test_sleeps"), dict(os.environ), 5, tmp_path / "engine.log")
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped before run() returned


def test_the_server_forks_with_no_thread_running():
    """A fork copies only the calling thread; a lock held by another thread would stay held
    in every engine. The preloaded modules must start none."""
    code = "from conformance.forkserver import preload; preload(); import threading; print(threading.active_count())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.stdout.strip() == "1", done.stderr[-2000:]


def test_a_dead_server_fails_the_run_at_once(tmp_path: Path):
    with ForkServer(dict(os.environ)) as server:
        assert server._process is not None
        server._process.kill()
        server._process.wait()
        assert server.run(_pytest("nothing"), dict(os.environ), 60, tmp_path / "engine.log") == -1
