"""Fuzz phase requests per second against the bundled reference, beside a bare httpx loop
against the same kind of server (the ceiling a client could reach on this machine)."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import api, reference


def fuzz_phase(examples: int | None) -> tuple[int, float]:
    reports = Path(tempfile.mkdtemp(prefix="rtkc-bench-fuzz-"))
    command = [
        sys.executable,
        "-m",
        "conformance.cli",
        "run",
        "--phase",
        "fuzz",
        "--workers",
        "1",
        "--reports-dir",
        str(reports),
        "--run-id",
        "fuzz",
    ]
    if examples:
        command += ["--fuzz-examples", str(examples)]
    subprocess.run(command, capture_output=True, text=True, check=False)
    campaign = json.loads((reports / "fuzz" / "evidence" / "fuzz" / "campaign.json").read_text())
    return campaign["requests"], campaign["seconds"]


async def bare_loop(requests: int) -> float:
    server = reference()
    try:
        async with api(server) as http:
            meeting = (await http.post("/meetings", json={})).json()["data"]["id"]
            started = time.perf_counter()
            for i in range(requests):
                if i % 2:
                    await http.get(f"/meetings/{meeting}")
                else:
                    await http.patch(f"/meetings/{meeting}", json={"title": f"t{i}"})
            return time.perf_counter() - started
    finally:
        server.stop()


def main(examples: int | None, bare: int) -> None:
    requests, seconds = fuzz_phase(examples)
    print(f"fuzz phase: {requests} requests in {seconds:.1f}s = {requests / seconds:.0f} req/s")
    elapsed = asyncio.run(bare_loop(bare))
    print(f"bare httpx loop (GET/PATCH a meeting): {bare} requests in {elapsed:.1f}s = {bare / elapsed:.0f} req/s")
    print(f"ratio: the fuzz phase runs at {requests / seconds / (bare / elapsed) * 100:.0f}% of the bare loop's rate")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fuzz-examples", type=int, default=None)
    parser.add_argument("--bare-requests", type=int, default=2000)
    parsed = parser.parse_args()
    main(parsed.fuzz_examples, parsed.bare_requests)
