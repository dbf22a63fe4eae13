"""One request budget for a whole run: every process takes its slots from one window."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.request_budget import SharedRateLimiter, SharedWindow

TAKER = """
import sys, time
from pathlib import Path
from conformance.request_budget import SharedWindow
window = SharedWindow(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
for _ in range(int(sys.argv[4])):
    window.take_blocking()
    print(time.monotonic(), flush=True)
"""


def test_a_full_window_says_when_the_oldest_slot_frees(tmp_path: Path) -> None:
    window = SharedWindow(tmp_path / "w", 3, per_seconds=10.0)
    assert [window.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = window.try_take()
    assert 9.0 < wait <= 10.0
    # A second process opening the same file sees the same ring, not a fresh one.
    assert 9.0 < SharedWindow(tmp_path / "w", 3, per_seconds=10.0).try_take() <= 10.0


def test_processes_together_never_exceed_the_window(tmp_path: Path) -> None:
    """Three processes each wanting 8 slots of a 6-per-second window: no second holds over 6."""
    path, per = tmp_path / "w", 1.0
    command = [sys.executable, "-c", TAKER, str(path), "6", str(per), "8"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    stamps = sorted(float(line) for proc in procs for line in proc.communicate(timeout=60)[0].split())
    assert len(stamps) == 24
    # Stamps are taken just after each grant, so a late one can look closer to the next
    # window than it was: windows a tenth shorter leave room for that.
    span = per * 0.9
    busiest = max(sum(1 for t in stamps if start <= t < start + span) for start in stamps)
    assert busiest <= 6
    assert stamps[-1] - stamps[0] >= 3 * span  # 24 slots at 6 per window take three more windows


async def test_the_async_limiter_waits_out_a_full_window(tmp_path: Path) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    limiter = SharedRateLimiter(SharedWindow(tmp_path / "w", 2, per_seconds=0.2), sleep=sleep)
    for _ in range(3):
        await limiter.acquire()
    assert limiter.stats.acquired == 3 and limiter.stats.waits == 1
    assert slept and 0 < sum(slept) <= 0.25


def test_a_window_needs_room_for_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SharedWindow(tmp_path / "w", 0)
