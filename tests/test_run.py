"""`conformance run` end to end: the verdict against the reference, and what happens when
the target is down, broken or silent (the run ends in time and says who is to blame)."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.hostile import (
    Always429,
    Always500,
    Garbage,
    Hangs,
    Resets,
    TruncatedJson,
    Vanishes,
    WrongContentType,
    closed_port_url,
)

if TYPE_CHECKING:
    from tests.conftest import Ran


def conformance(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def target_env(base_url: str) -> dict[str, str]:
    return {
        "RTKC_BASE_URL": base_url,
        "RTKC_ACCOUNT_ID": "acct",
        "RTKC_APP_ID": "app",
        "RTKC_REALTIME_URL": base_url.replace("http", "ws").replace("/client/v4", "/realtime"),
        "RTKC_ADMIN_TOKEN": "canary-admin-token-0001",
        "RTKC_REQUEST_TIMEOUT_SECONDS": "1",
        "RTKC_EVENT_TIMEOUT_SECONDS": "1",
    }


def test_a_run_against_the_reference_passes_every_requirement(clean_run: Ran):
    assert clean_run.done.returncode == 0, clean_run.output_tail()
    assert "CONFORMANT" in clean_run.done.stdout
    records = clean_run.records
    assert records and all(r["outcome"] == "pass" for r in records)
    assert {rid for r in records for rid in r["requirements"]} >= {"END-01", "PERM-01", "CLASS-03", "WH-03"}


def test_a_run_against_a_fault_fails_with_exit_1_naming_the_requirement(faulty_run: Ran):
    done = faulty_run.done
    assert done.returncode == 1, faulty_run.output_tail()
    assert "NOT CONFORMANT" in done.stdout
    # The row shows one failing check's reason (the model's or the scenario's): both name the
    # state the rules want and the one the target gave.
    verdict, detail = table_row(done.stdout, "END-02")
    assert verdict == "FAIL" and "'ended'" in detail and "'left'" in detail, detail
    scenario = next(r for r in faulty_run.records if "END-02" in r["requirements"] and r["phase"] == "scenarios")
    assert scenario["outcome"] == "fail" and "roomLeft state" in scenario["message"]


def table_row(stdout: str, requirement: str) -> tuple[str, str]:
    """The verdict and the whole detail of a requirement's row in the summary table: wrapped
    lines joined, and a detail said once for the row above ("(same as END-01)") read there."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(requirement + " "))
    verdict, first = re.fullmatch(r"\S+\s+\S+\s+\S+\s+(NOT RUN|\S+)\s*(.*)", lines[start]).groups()
    parts = [first]
    for line in lines[start + 1 :]:
        if not line.startswith(" ") or not line.strip():
            break
        parts.append(line.strip())
    detail = " ".join(parts).strip()
    same = re.fullmatch(r"\(same as (\S+)\)", detail)
    return (verdict, table_row(stdout, same.group(1))[1]) if same else (verdict, detail)


# The preflight sends one request for the admin token alone (target_env configures no other).
PREFLIGHT_REQUESTS = 1


def after_preflight(target: type) -> Callable[[], Any]:
    """The hostile target, answering the preflight's request well and misbehaving after it."""
    return functools.partial(target, honest_requests=PREFLIGHT_REQUESTS)


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (None, ["cannot reach", "cannot connect", "is the target running there?"]),
        (Hangs, ["cannot reach", "no answer within"]),
        (Resets, ["cannot reach", "connection"]),
        (Garbage, ["not a RealtimeKit API", "answered 201"]),
        (WrongContentType, ["not a RealtimeKit API", "answered 201 with text/html"]),
        (TruncatedJson, ["cannot reach", "closed before a complete answer"]),
    ],
    ids=["unreachable", "hangs", "resets", "garbage", "wrong-content-type", "truncated-json"],
)
def test_a_target_broken_from_the_start_stops_at_the_preflight(tmp_path: Path, target, says):
    """Not RealtimeKit at that URL, or not reachable: the suite could not run (exit 2), in one
    line naming what went wrong, before any check could blame the implementation."""
    started = time.monotonic()
    if target is None:
        done = conformance("run", "--reports-dir", str(tmp_path), env=target_env(closed_port_url()), timeout=60)
    else:
        with target() as url:
            done = conformance("run", "--reports-dir", str(tmp_path), env=target_env(url), timeout=60)
    elapsed = time.monotonic() - started
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(output) == 1 and output[0].startswith("no check ran: "), output
    for words in says:
        assert words in output[0], output[0]
    assert "FAIL" not in output[0] and "Traceback" not in output[0]
    assert "canary-admin-token-0001" not in output[0]
    assert elapsed < 10, f"{elapsed:.1f}s"


@pytest.mark.slow(8)
@pytest.mark.parametrize(
    ("target", "codes", "says"),
    [
        (Always500, {1}, "500"),
        (Always429, {1}, "429"),
        (after_preflight(Vanishes), {2}, "cannot connect"),
        (after_preflight(Hangs), {1, 2}, "within"),
        (after_preflight(Resets), {2}, "connection"),
        (after_preflight(Garbage), {1}, "201"),
        (after_preflight(WrongContentType), {1}, "201"),
        (after_preflight(TruncatedJson), {1, 2}, "preset"),
    ],
    ids=[
        "answers-500",
        "always-429",
        "vanishes",
        "hangs",
        "resets",
        "garbage",
        "wrong-content-type",
        "truncated-json",
    ],
)
def test_a_target_broken_after_the_preflight_ends_in_time_with_a_clear_reason(tmp_path: Path, target, codes, says):
    """The checks meet the broken behaviour mid-run: an answer that is wrong (garbage to a
    create, a 500) is the implementation's failure (exit 1); no answer at all means the
    suite could not run (exit 2). Either way the run ends within its deadline."""
    started = time.monotonic()
    with target() as url:
        done = conformance("run", "--reports-dir", str(tmp_path), env=target_env(url), timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode in codes, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no check ran" not in done.stdout, "the preflight must let this target through"
    assert "Traceback" not in done.stdout + done.stderr
    assert says in done.stdout, done.stdout[-2000:]
    assert elapsed < 120
    assert "canary-admin-token-0001" not in done.stdout + done.stderr
    if target is Always429:
        assert re.search(r"[1-9]\d* answered 429", done.stdout), "429s must be counted apart in the summary"


@pytest.mark.slow(10)
@pytest.mark.parametrize(
    ("fault", "requirement", "says"),
    [
        ("websocket_dropped_after_join", "END-02", "disconnected"),
        ("webhooks_delivered_late", "END-08", "within"),
        ("delivers_twice", "WH-03", "no repeat after a 200"),
    ],
    ids=["websockets-drop-mid-session", "webhooks-late", "webhooks-twice"],
)
def test_a_flaky_target_fails_the_requirement_in_time_and_leaves_nothing_behind(tmp_path, fault, requirement, says):
    started = time.monotonic()
    done = conformance(
        "run",
        "--reports-dir",
        str(tmp_path),
        "--reference-fault",
        fault,
        "--requirement",
        requirement,
        "--phase",
        "scenarios",
        timeout=120,
    )
    assert done.returncode == 1, done.stdout[-3000:]
    verdict, detail = table_row(done.stdout, requirement)
    assert verdict == "FAIL" and says in detail, detail
    assert "Traceback" not in done.stdout + done.stderr
    assert "left behind on the target" not in done.stdout
    assert time.monotonic() - started < 120
