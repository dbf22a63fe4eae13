"""`conformance run` against a target that enforces RealtimeKit's rate limit for real: the
reference with `requests_per_10s` on, answering 429 + Retry-After past its limit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer
from conformance.target import embedded_env

# The reference's own timing on loopback (its first webhook retry after 1 s, events within
# milliseconds), as for the embedded reference: only the rate limit is the target's here.
LOOPBACK_TIMING = {"RTKC_WEBHOOK_RETRY_SECONDS": "10", "RTKC_EVENT_TIMEOUT_SECONDS": "3"}


def run_against(server: ThreadedServer, tmp_path: Path, budget: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **embedded_env(server),
        **LOOPBACK_TIMING,
        "RTKC_REQUESTS_PER_10S": str(budget),
    }
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--reports-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


@pytest.mark.background
@pytest.mark.slow(20)
def test_a_run_stays_inside_the_targets_limit(tmp_path: Path) -> None:
    """One request budget for the whole run, shared by the test process, the pact verifier and
    the runner's sweeps: the target allows 25 per 10 s, the budget is 20 (the margin of the
    default 200 under RealtimeKit's 250), and a selection of scenarios and contracts (one
    pact verifier) needs more than 25 requests. The budget binds (the run waits for it) and
    the target never answers 429. Asking for two workers is refused with a note (a shared target's webhooks
    would cross between them)."""
    selection = ("--requirement", "END-01", "--requirement", "PERM-06", "--requirement", "API-03")
    with ThreadedServer(ReferenceSettings(test_clock=True, requests_per_10s=25)) as server:
        done = run_against(
            server, tmp_path, 20, "--phase", "scenarios", "--phase", "contracts", *selection, "--workers", "2"
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "running with 1 worker" in done.stderr
    traffic = next(line for line in done.stdout.splitlines() if line.startswith("traffic:"))
    assert re.search(r"[1-9]\d* API requests", traffic), traffic
    assert re.search(r"[1-9]\d* rate-limit waits", traffic), traffic  # the budget was reached, and held
    assert " 0 answered 429" in traffic, traffic


@pytest.mark.background
@pytest.mark.slow(12)
def test_a_budget_above_the_targets_limit_is_throttled_and_the_run_still_passes(tmp_path: Path) -> None:
    """A misconfigured budget is the operator's problem, not the implementation's: the 429s
    are waited out as Retry-After says, counted apart, and no check fails for them."""
    with ThreadedServer(ReferenceSettings(test_clock=True, requests_per_10s=15)) as server:
        done = run_against(
            server, tmp_path, 1000, "--phase", "scenarios", "--requirement", "END-01", "--requirement", "END-03"
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "PARTIAL: every MUST of this selection passed" in done.stdout  # a --requirement run
    traffic = next(line for line in done.stdout.splitlines() if line.startswith("traffic:"))
    assert re.search(r"[1-9]\d* answered 429", traffic), traffic
