"""How long the project's own tests take: the README's test command (`python -m pytest -q -n auto`)
with `--durations=25`, timed from outside.

    .venv/bin/python bench/test_time.py                      # the whole suite, as the README runs it
    .venv/bin/python bench/test_time.py -p no:xdist          # the whole suite in one process
    .venv/bin/python bench/test_time.py tests/test_run.py    # any pytest arguments replace `-n auto`

Prints pytest's own output as it comes, then the wall time, the CPU time of every process the
tests started (pytest, its xdist workers, each `conformance run` and the processes below it:
`RUSAGE_CHILDREN` counts every descendant that was waited for), the whole machine's busy time
meanwhile (/proc/stat: the figure to quote when the machine was otherwise idle), the slowest
tests and the costliest ones in CPU (bench/_cpu_per_test.py).
Not a test (nothing here is collected): a time measured on a shared machine gates nothing.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLOWEST_SHOWN = 15
README_ARGS = ["-n", "auto"]  # what the README's test command adds to `pytest -q`
DURATION = re.compile(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S+)")


def pytest_command(args: list[str]) -> list[str]:
    durations = [] if any(a.startswith("--durations") for a in args) else ["--durations=25"]
    # bench/_cpu_per_test.py (importable from here: pytest runs with this folder on PYTHONPATH)
    return [sys.executable, "-m", "pytest", "-q", "-p", "_cpu_per_test", *durations, *(args or README_ARGS)]


def machine_cpu_seconds() -> float:
    """CPU time the whole machine spent working (user, nice, system, interrupts), from /proc/stat.
    It also counts what no process waited for (a background run whose parent ended first), which
    RUSAGE_CHILDREN misses; on an otherwise idle machine it is the suite's cost."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def per_test(path: Path) -> list[dict]:
    """_cpu_per_test's lines: each test's CPU and wall seconds."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def costliest(rows: list[dict]) -> list[tuple[float, str]]:
    """(CPU seconds, test id), costliest first."""
    return sorted(((row["cpu"], row["nodeid"]) for row in rows), reverse=True)


def slowest(output: str) -> list[tuple[float, str, str]]:
    """(seconds, phase, test id) from pytest's durations table, slowest first."""
    found = [(float(m[1]), m[2], m[3]) for line in output.splitlines() if (m := DURATION.match(line))]
    return sorted(found, reverse=True)


def cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def main(args: list[str]) -> int:
    command = pytest_command(args)
    print("$", " ".join(command), flush=True)
    per_test_file = Path(tempfile.mkdtemp(prefix="rtkc-bench-")) / "cpu.jsonl"
    env = {**os.environ, "RTKC_BENCH_CPU": str(per_test_file), "PYTHONPATH": str(Path(__file__).parent)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before = machine_cpu_seconds()
    started = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # passed through as it comes: a long suite shows its progress
            sys.stdout.write(line)
            lines.append(line)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu_seconds(before)
    machine = machine_cpu_seconds() - machine_before
    print()
    print(f"pytest exit code {proc.returncode}")
    print(f"wall time: {wall:.1f} s ({wall / 60:.1f} min)")
    print(f"CPU time:  {cpu:.1f} s ({cpu / 60:.1f} CPU-min, user + system, every child process included)")
    print(f"machine:   {machine:.1f} s ({machine / 60:.1f} CPU-min, the whole machine's busy time meanwhile)")
    print(f"slowest {SLOWEST_SHOWN}:")
    for seconds, phase, test in slowest("".join(lines))[:SLOWEST_SHOWN]:
        print(f"  {seconds:8.2f} s  {phase:<8} {test}")
    rows = per_test(per_test_file)
    busy = sum(row["wall"] for row in rows)
    print(f"tests' own time summed: {busy:.1f} s (what the workers spent inside tests, waiting included)")
    print(f"costliest {SLOWEST_SHOWN} (CPU of the test's process and the processes it waited for):")
    for seconds, test in costliest(rows)[:SLOWEST_SHOWN]:
        print(f"  {seconds:8.2f} s  {test}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
