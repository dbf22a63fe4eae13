"""The suite's own hooks are not the implementation: a test clock that answers 204 is a
working clock, and one that answers 500 means the timer checks could not run (ERROR, exit 2,
the hook named), never that the implementation broke LEAVE-04, CLASS-01…03 or WH-03."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer
from conformance.target import EMBEDDED_DEFAULTS, embedded_env
from conformance.verdict import read_results
from tests.processes import isolated_env

CLOCK_PATH = "/_conformance/clock/advance"
TIMER_CHECKS = ("LEAVE-04", "CLASS-01", "CLASS-02", "CLASS-03", "WH-03")

Endpoint = Callable[[Request], Awaitable[Response]]


def answering_204(advance: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        done = await advance(request)
        return Response(status_code=204) if done.status_code == 200 else done

    return endpoint


def answering_500(advance: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return JSONResponse({"success": False, "error": {"code": 500, "message": "clock broken"}}, status_code=500)

    return endpoint


def with_clock(server: ThreadedServer, make: Callable[[Endpoint], Endpoint]) -> None:
    """Swap the running reference's clock endpoint, from outside, as faults do."""
    assert server.reference is not None
    routes = server.reference.app.router.routes
    index = next(i for i, r in enumerate(routes) if isinstance(r, Route) and r.path == CLOCK_PATH)
    routes[index] = Route(CLOCK_PATH, make(routes[index].endpoint), methods=["POST"])


def run_timer_checks(server: ThreadedServer, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    env = {
        **isolated_env(),
        **embedded_env(server),
        **EMBEDDED_DEFAULTS,
        "RTKC_PROFILES": "api,session,webhooks,classroom",
    }
    wanted = [arg for rid in TIMER_CHECKS for arg in ("--requirement", rid)]
    command = [sys.executable, "-m", "conformance.cli", "run", "--reports-dir", str(tmp_path), "--run-id", "hooks"]
    done = subprocess.run(
        [*command, "--phase", "scenarios", *wanted],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    return done, read_results(tmp_path / "hooks" / "results.jsonl")


@pytest.mark.background
@pytest.mark.slow(40)
def test_a_clock_answering_204_is_a_working_clock(tmp_path: Path) -> None:
    with ThreadedServer(ReferenceSettings(test_clock=True)) as server:
        with_clock(server, answering_204)
        done, records = run_timer_checks(server, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert {rid for r in records for rid in r["requirements"]} >= set(TIMER_CHECKS)
    assert all(r["outcome"] == "pass" for r in records), [(r["nodeid"], r["message"]) for r in records]


@pytest.mark.background
@pytest.mark.slow(15)
def test_a_clock_answering_500_is_an_error_naming_the_hook_never_a_fail(tmp_path: Path) -> None:
    with ThreadedServer(ReferenceSettings(test_clock=True)) as server:
        with_clock(server, answering_500)
        done, records = run_timer_checks(server, tmp_path)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-2000:]
    assert "NOT CONFORMANT" not in done.stdout
    clocked = [r for r in records if r["outcome"] != "pass"]
    # A timer check may also count for another requirement (its webhook half for END-08).
    assert {rid for r in clocked for rid in r["requirements"]} >= set(TIMER_CHECKS), [
        (r["nodeid"], r["outcome"]) for r in records
    ]
    for record in clocked:
        assert set(record["requirements"]) & set(TIMER_CHECKS), record
        assert record["outcome"] == "error", record
        assert "test clock hook POST http://127.0.0.1:" in record["message"], record
        assert CLOCK_PATH in record["message"], record
        assert "answered 500" in record["message"], record
    for line in done.stdout.splitlines():
        if line.startswith(TIMER_CHECKS):
            assert "ERROR" in line and "FAIL" not in line, line


def test_a_bridge_process_that_dies_is_an_error_never_a_fail(tmp_path: Path) -> None:
    """The bridge is the suite's way into a vendor's SDK: when the process itself fails, the
    checks could not run (exit 2), whatever the requirement."""
    dies = f"{sys.executable} -c \"import sys; print('bridge: no SDK here', file=sys.stderr); sys.exit(3)\""
    with ThreadedServer(ReferenceSettings(test_clock=True)) as server:
        env = {
            **isolated_env(),
            **embedded_env(server),
            **EMBEDDED_DEFAULTS,
            "RTKC_DRIVER": "bridge",
            "RTKC_BRIDGE_COMMAND": dies,
        }
        command = [sys.executable, "-m", "conformance.cli", "run", "--reports-dir", str(tmp_path)]
        selection = ["--run-id", "bridge", "--phase", "scenarios", "--requirement", "END-01", "--requirement", "END-02"]
        done = subprocess.run([*command, *selection], capture_output=True, text=True, timeout=300, env=env, check=False)
    records = read_results(tmp_path / "bridge" / "results.jsonl")
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-2000:]
    assert records and all(r["outcome"] == "error" for r in records), [(r["nodeid"], r["outcome"]) for r in records]
    assert all("exited with code 3" in r["message"] and "no SDK here" in r["message"] for r in records), records
