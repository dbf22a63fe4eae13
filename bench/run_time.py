"""A full default `conformance run` against the bundled reference: wall time, split by phase,
and the share of it spent waiting (for events, timers, windows) versus working (CPU)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main(workers: int | None) -> None:
    reports = Path(tempfile.mkdtemp(prefix="rtkc-bench-"))
    command = [sys.executable, "-m", "conformance.cli", "run", "--reports-dir", str(reports), "--run-id", "bench"]
    if workers:
        command += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    records = [json.loads(line) for line in (reports / "bench" / "results.jsonl").read_text().splitlines()]
    by_phase: dict[str, list[float]] = defaultdict(list)
    for record in records:
        by_phase[record["phase"]].append(record["duration"])
    print(f"exit code {done.returncode}; {len(records)} checks; wall {wall:.1f}s")
    for phase, durations in sorted(by_phase.items()):
        print(
            f"  phase {phase:<10} {len(durations):>3} checks, {sum(durations):6.1f}s of check time "
            f"(longest {max(durations):.1f}s)"
        )
    cores = os.cpu_count() or 1
    busy = min(1.0, cpu / (wall * cores))
    print(
        f"  CPU (all processes) {cpu:.1f}s over {wall:.1f}s wall on {cores} cores: "
        f"working ≈ {busy * 100:.0f}% of the machine, waiting ≈ {(1 - busy) * 100:.0f}%"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=None)
    main(parser.parse_args().workers)
