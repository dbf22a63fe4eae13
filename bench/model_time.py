"""What the model phase adds to the default `conformance run` against the bundled reference.

Default: the model phase alone (`--phase model`), three times: its wall time (start-up
included: an upper bound on what it adds), the time its checks took, summed over the test
processes (each walks once, in parallel, so this sum exceeds the wall time), and what it told.
`--full`: also a whole default run with and without the model phase (several minutes each).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES_WITHOUT_MODEL = ("scenarios", "fuzz", "contracts")


def one_run(reports: Path, run_id: str, *args: str) -> tuple[float, float, str]:
    """Wall time, model-phase check time, and stdout of one `conformance run`."""
    command = [sys.executable, "-m", "conformance.cli", "run", "--reports-dir", str(reports), "--run-id", run_id]
    started = time.perf_counter()
    done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    results = reports / run_id / "results.jsonl"
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    model = sum(r["duration"] for r in records if r.get("phase") == "model")
    print(f"  {run_id:<14} exit {done.returncode}  wall {wall:5.1f}s  model-phase check time {model:5.1f}s")
    return wall, model, done.stdout


def main(repeat: int, full: bool) -> None:
    reports = Path(tempfile.mkdtemp(prefix="rtkc-bench-model-"))
    print("the model phase alone (--phase model):")
    walls, checks = [], []
    for i in range(repeat):
        wall, model, out = one_run(reports, f"model-{i}", "--phase", "model")
        walls.append(wall)
        checks.append(model)
        told = re.search(r"model phase: told (\d+) stored stories and (\d+) random ones", out)
        if told:
            print(f"  {'':<14} told {told.group(1)} stored stories and {told.group(2)} random ones")
    print(
        f"median: wall {statistics.median(walls):.1f}s, model-phase check time {statistics.median(checks):.1f}s "
        f"summed over the test processes (the budget: at most 15 s added to the default run)"
    )
    if full:
        print("a default run with and without the model phase:")
        with_model, _, _ = one_run(reports, "full")
        without = [arg for p in PHASES_WITHOUT_MODEL for arg in ("--phase", p)]
        without_model, _, _ = one_run(reports, "full-no-model", *without)
        print(f"added wall time: {with_model - without_model:+.1f}s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also two whole default runs (minutes)")
    arguments = parser.parse_args()
    main(arguments.repeat, arguments.full)
