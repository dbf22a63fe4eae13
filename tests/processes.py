"""A server in a child process for the project's tests: `conformance serve`, the legal variant,
anything that prints one JSON ready line on stdout once it listens.

`Served` starts it, waits for the ready line with a deadline (the assertion shows the tail of
its stderr), and always stops it on leaving: SIGTERM, then a kill if it does not stop in time.
stdout and stderr go to files, never to pipes: a pipe nobody drains stalls the server once full.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

CLI = [sys.executable, "-m", "conformance.cli"]
READY_SECONDS = 30.0
STOP_SECONDS = 15.0
POLL_SECONDS = 0.05


def isolated_env(**extra: str) -> dict[str, str]:
    """This environment without RTKC_* or RTK_REFERENCE_*: nothing of the caller's may point a
    run or a server elsewhere, or give it other tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RTKC_", "RTK_REFERENCE_"))}
    return {**env, **extra}


class Served:
    """`with Served([...]) as served:` — `served.ready` is the parsed ready line; after the
    block, `returncode`, `stop_seconds` and `stderr()` tell how the process stopped."""

    def __init__(
        self,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdout: Path | None = None,
        ready_seconds: float = READY_SECONDS,
    ) -> None:
        self.command, self.env, self.cwd, self.ready_seconds = command, env, cwd, ready_seconds
        self._folder = tempfile.TemporaryDirectory(prefix="rtkc-served-")
        self.stdout_path = stdout or Path(self._folder.name) / "stdout"
        self.stderr_path = Path(self._folder.name) / "stderr"
        self.ready: dict[str, Any] = {}
        self.returncode: int | None = None
        self.stop_seconds = 0.0
        self._stderr_text = ""

    def __enter__(self) -> Served:
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=err, env=self.env, cwd=self.cwd)
        try:
            self.ready = self._wait_for_ready_line()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop()

    def stderr(self) -> str:
        """Everything the process wrote to stderr (complete once it has stopped)."""
        return self._stderr_text or self.stderr_path.read_text(errors="replace")

    def _wait_for_ready_line(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.ready_seconds
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text(errors="replace")
            if "\n" in text:  # the first line is complete
                return json.loads(text.split("\n", 1)[0])
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self._name()} exited {self.process.returncode} before its ready line:\n{self._tail()}"
                )
            time.sleep(POLL_SECONDS)  # polling a file, bounded by the deadline
        raise AssertionError(f"{self._name()} printed no ready line within {self.ready_seconds:g} s:\n{self._tail()}")

    def _stop(self) -> None:
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.stop_seconds = time.monotonic() - started
        self.returncode = self.process.returncode
        self._stderr_text = self.stderr_path.read_text(errors="replace")
        self._folder.cleanup()

    def _name(self) -> str:
        return " ".join(Path(self.command[0]).name if i == 0 else a for i, a in enumerate(self.command[:5]))

    def _tail(self) -> str:
        return "stderr (last 3000 characters):\n" + self.stderr_path.read_text(errors="replace")[-3000:]


def serve(*args: str, env: dict[str, str] | None = None, **options: Any) -> Served:
    """`conformance serve --port 0 <args>` in a child process."""
    return Served([*CLI, "serve", "--port", "0", *args], env=env, **options)
