"""A test engine loaded once and forked for each run: for the selftest's ~80 short runs.

Each run's engine is a child pytest (runner.py). Started fresh, it spends most of a short run
importing pytest, the plugin, the reference implementation and the checks (measured: ~0.6 of
~1 CPU-s). The server here imports them once; each run is then a fork of it that sets the run's
environment, working folder and log, and calls pytest with the run's arguments. What the engine
does from there is what `python -m pytest` does: the same plugin, plan file and deadline.

The server holds no thread and no open connection when it forks (the preloaded modules only
define things), so each child starts as clean as a fresh interpreter, minus the imports.

Protocol (one JSON object per line): the client writes {"id", "args", "env", "cwd", "log"};
the server answers {"id", "pid"} once the child runs and {"pid", "status"} when it has ended.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import pkgutil
import select
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

# Imported once by the server: what the engine of a scenarios or model run imports, found by
# listing what forked engines still imported. The fuzz and contracts phases' check modules are
# left to import their own (the pact library and the fuzz hooks read their environment when
# imported). Measured, 12 scenario fault runs one after another: 14.5 CPU-s with fresh engines,
# 8.9 forked after importing pytest and the checks, 6.0 with this list, the documents read and
# the heap frozen.
PRELOAD = (
    "pytest",
    "_pytest.debugging",
    "_pytest.junitxml",
    "pdb",
    "pytest_asyncio.plugin",
    "pytest_timeout",
    "xdist.plugin",
    "conformance.plugin",
    "conformance.plugin.fixtures",
    "conformance.plugin.selection",
    "conformance.target",
    "conformance.reference.faults",
    "conformance.drivers.websocket",
    "conformance.response_conformance",
    "uvicorn.lifespan.on",
    "uvicorn.protocols.http.h11_impl",
    "anyio._backends._asyncio",
    "httpcore",
    "websockets.asyncio.client",
    "xml.etree.ElementTree",
)
PRELOAD_PACKAGES = ("conformance.scenarios", "conformance.model")


def preload() -> None:
    """Import what every engine imports, and read what every engine reads (the descriptions and
    the catalogue: documents shipped with the package, the same for every run)."""
    for name in PRELOAD:
        importlib.import_module(name)
    for package_name in PRELOAD_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
    from conformance import catalogue, resources, response_conformance
    from conformance.fuzz import checks

    resources.openapi_document()
    checks.official_operations()  # Cloudflare's description, read by the response judge
    catalogue.load()
    response_conformance.warm()
    # What is loaded now stays: the collector no longer walks it (each engine's pytest collects
    # at its end, and walked all of it: ~0.06 s a collection) and forks share its pages.
    gc.freeze()


# -- the server (python -m conformance.forkserver) ---------------------------------------------


def _engine(request: dict) -> None:
    """In the forked child: become the run's engine, and never return."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.path.insert(0, request["cwd"])  # as `python -m pytest` puts its working folder first
        with open(os.devnull, "rb") as nothing:
            os.dup2(nothing.fileno(), 0)
        with open(request["log"], "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        import pytest

        sys.argv = ["pytest", *request["args"]]
        code = int(pytest.main(request["args"]))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _status(raw: int) -> int:
    """A wait status as subprocess reports a return code (-N: killed by signal N)."""
    return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)


def serve() -> None:
    preload()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to be woken: children are reaped below
    requests, out = sys.stdin.buffer, sys.stdout
    pending = b""
    while True:
        readable, _, _ = select.select([requests, wake_read], [], [])
        if wake_read in readable:
            os.read(wake_read, 512)
        while True:  # every child that has ended
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            out.write(json.dumps({"pid": pid, "status": _status(raw)}) + "\n")
            out.flush()
        if requests in readable:
            chunk = os.read(requests.fileno(), 65536)
            if not chunk:
                return  # the client has gone: its children end with their own deadlines
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _engine(request)
                out.write(json.dumps({"id": request["id"], "pid": pid}) + "\n")
                out.flush()


# -- the client ---------------------------------------------------------------------------------


@dataclass
class _Run:
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    pid: int = 0
    status: int = -1


class ForkServer:
    """`with ForkServer() as engines: engines.run(command, env, timeout, log)`, from any thread.

    `run` behaves as `subprocess.run(command, env=env, timeout=timeout, stdout=log, stderr=log)`
    for a `python -m pytest ...` command: the return code, or TimeoutExpired once the engine has
    been killed. If the server itself fails, each run reports return code -1 (the runner then
    says the engine stopped before any check ran)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._env = env
        self._lock = threading.Lock()
        self._runs: dict[int, _Run] = {}
        self._by_pid: dict[int, _Run] = {}
        self._next = 0
        self._gone = False
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ForkServer:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "conformance.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self._env,
        )
        threading.Thread(target=self._read, name="forkserver-reader", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None and self._process.stdin is not None
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            message = json.loads(line)
            with self._lock:
                if "id" in message:
                    run = self._runs.pop(message["id"])
                    run.pid = message["pid"]
                    self._by_pid[run.pid] = run
                    run.started.set()
                else:
                    run = self._by_pid.pop(message["pid"], None)
                    if run is not None:
                        run.status = message["status"]
                        run.ended.set()
        with self._lock:  # the server has gone: no run waits forever
            self._gone = True
            for run in [*self._runs.values(), *self._by_pid.values()]:
                run.started.set()
                run.ended.set()

    def run(self, command: list[str], env: dict[str, str], timeout: float, log: Path) -> int:
        assert command[1:3] == ["-m", "pytest"], command
        assert self._process is not None and self._process.stdin is not None
        run = _Run()
        with self._lock:
            if self._gone:
                return -1
            self._next += 1
            self._runs[self._next] = run
            request = {"id": self._next, "args": command[3:], "env": env, "cwd": os.getcwd(), "log": str(log)}
            try:
                self._process.stdin.write((json.dumps(request) + "\n").encode())
                self._process.stdin.flush()
            except OSError:
                return -1
        run.started.wait()
        if not run.pid:
            return -1
        try:
            if not run.ended.wait(timeout):
                raise subprocess.TimeoutExpired(command, timeout)
        except BaseException:
            self._kill(run)  # past its deadline, or Ctrl-C in the caller (as subprocess.run does)
            raise
        return run.status

    def _kill(self, run: _Run) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(run.pid, signal.SIGKILL)
        run.ended.wait(10)


if __name__ == "__main__":
    serve()
