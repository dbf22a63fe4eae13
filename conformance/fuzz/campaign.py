"""One schemathesis campaign: `st run` in a child process against the configured target.

Everything the child writes lives in a private working directory that is removed afterwards
(its config, its NDJSON events, the hooks' ledger), and the child runs there, so no
`.hypothesis/` example database or `.schemathesis/` crash cache can appear in the user's
directory or steer a later run (they are also switched off in the config). The admin token
reaches the child only through its environment (RTK_API_TOKEN, which the generated config
names), never through its command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance.fuzz.budget import Budget, pace
from conformance.fuzz.findings import TOKEN_VARIABLE
from conformance.resources import openapi_path

HOOKS_MODULE = "conformance.fuzz.hooks"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
# Operations that may refuse a schema-valid body because the preset `preset_name` names does
# not exist. The reference answers 409 (which schemathesis' positive-data check accepts);
# Cloudflare is silent, so an implementation answering 400 there is not even warned about.
SEMANTIC_400 = ("addParticipant", "editParticipant", "replaceParticipant")
POSITIVE_DATA_STATUSES = '["2XX", "3XX", 400, 401, 403, 404, 409, 429, "5XX"]'


def phases_for(operations: tuple[str, ...]) -> tuple[str, ...]:
    """Every phase for a whole campaign; without the stateful phase for chosen operations: it
    follows links between operations, among a few there are usually none, and schemathesis
    then reports "Missing Open API links" as an error."""
    return tuple(p for p in PHASES if p != "stateful") if operations else PHASES


@dataclass(frozen=True)
class Target:
    base_url: str
    account_id: str
    app_id: str
    token: str = field(repr=False)
    requests_per_10s: int | None  # None: the target has no rate limit (the embedded reference)
    request_timeout: float
    # The run's shared request window (request_budget.SharedWindow): when set, the child's hooks
    # take a slot from it before every call instead of schemathesis pacing itself alone.
    rate_window: str | None = None


@dataclass(frozen=True)
class Plan:
    target: Target
    budget: Budget
    seed: int
    run_id: str
    deadline: float  # seconds; the child is stopped after it
    phases: tuple[str, ...] = PHASES
    operations: tuple[str, ...] = ()  # operation ids to fuzz; empty = every operation


@dataclass
class Result:
    exit_code: int | None  # None: stopped at the deadline
    output: str  # schemathesis' own terminal output
    events: Path  # NDJSON stream
    ledger: list[dict[str, str | None]]
    throttled: int
    seconds: float
    workdir: Path

    def discard(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def schemathesis_config(plan: Plan, events: Path) -> str:
    """The child's schemathesis.toml: every phase, every check, the seed, no hidden state."""
    target, budget = plan.target, plan.budget
    lines = [
        f"seed = {plan.seed}",
        "workers = 1",  # one sequence of requests: the same seed sends the same requests
        f"base-url = {_toml_string(target.base_url)}",
        f"hooks = {_toml_string(HOOKS_MODULE)}",
        f"request-timeout = {target.request_timeout:g}",
        "color = false",
    ]
    if budget.time_seconds:
        lines.append(f"max-time = {max(1, round(budget.time_seconds))}")
    rate = None if target.rate_window else pace(target.requests_per_10s)
    if rate:
        lines.append(f"rate-limit = {_toml_string(rate)}")
    lines += [
        "",
        "[generation]",
        'database = "none"',
        f"max-examples = {budget.examples}",
        'mode = "all"',
        "",
        "[cache]",
        "enabled = false",
        "",
        "[phases]",
        *(f"{phase}.enabled = {'true' if phase in plan.phases else 'false'}" for phase in PHASES),
        "",
        "[checks]",
        "enabled = true",
        "",
        "[warnings]",
        # A run in which every request is refused as unauthenticated tested nothing.
        'fail-on = ["missing_auth"]',
        "",
        "[auth.openapi.bearerAuth]",
        f'bearer = "${{{TOKEN_VARIABLE}}}"',
        "",
        "[parameters]",
        f'"path.account_id" = {_toml_string(target.account_id)}',
        f'"path.app_id" = {_toml_string(target.app_id)}',
        "",
        "[reports.ndjson]",
        "enabled = true",
        f"path = {_toml_string(str(events))}",
        "",
        "[[operations]]",
        f"include-operation-id = {json.dumps(list(SEMANTIC_400))}",
        f"checks.positive_data_acceptance.expected-statuses = {POSITIVE_DATA_STATUSES}",
        "",
    ]
    return "\n".join(lines)


def child_environment(plan: Plan, workdir: Path) -> dict[str, str]:
    # The suite's own secrets stay behind; the child gets the one token it needs.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RTKC_", "RTK_"))}
    env.update(
        {
            TOKEN_VARIABLE: plan.target.token,
            "RTKC_FUZZ_RUN_ID": plan.run_id,
            "RTKC_FUZZ_LEDGER": str(workdir / "ledger.jsonl"),
            "RTKC_FUZZ_THROTTLED": str(workdir / "throttled.log"),
            **_window_environment(plan.target),
            # Hypothesis keeps caches even without an example database (constants, unicode
            # tables); they go to the private workdir and are removed with it.
            "HYPOTHESIS_STORAGE_DIRECTORY": str(workdir / ".hypothesis"),
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _window_environment(target: Target) -> dict[str, str]:
    if not (target.rate_window and target.requests_per_10s):
        return {}
    return {"RTKC_FUZZ_RATE_WINDOW": target.rate_window, "RTKC_FUZZ_RATE_LIMIT": str(target.requests_per_10s)}


def command(config_file: Path, operations: tuple[str, ...] = ()) -> list[str]:
    only = [arg for operation in operations for arg in ("--include-operation-id", operation)]
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        *only,
        str(openapi_path()),
    ]


async def run(plan: Plan) -> Result:
    """Run one campaign to its end or its deadline; the caller discards the result's workdir."""
    workdir = Path(tempfile.mkdtemp(prefix="rtkc-fuzz-"))
    events = workdir / "events.ndjson"
    config_file = workdir / "schemathesis.toml"
    config_file.write_text(schemathesis_config(plan, events), encoding="utf-8")
    output_file = workdir / "output.txt"
    started = time.monotonic()
    with output_file.open("wb") as output:
        child = await asyncio.create_subprocess_exec(
            *command(config_file, plan.operations),
            cwd=workdir,
            env=child_environment(plan, workdir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a stop reaches all of it
        )
        exit_code = None
        try:
            exit_code = await asyncio.wait_for(child.wait(), plan.deadline)
        except TimeoutError:
            pass  # reported by the caller: exit_code None means "stopped at the deadline"
        finally:
            if child.returncode is None:
                await _stop(child)
    return Result(
        exit_code=exit_code,
        output=output_file.read_text(encoding="utf-8", errors="replace"),
        events=events,
        ledger=_read_ledger(workdir / "ledger.jsonl"),
        throttled=_count_lines(workdir / "throttled.log"),
        seconds=time.monotonic() - started,
        workdir=workdir,
    )


async def _stop(child: asyncio.subprocess.Process) -> None:
    """SIGTERM to the child's process group (schemathesis closes its report), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.wait(), grace)
            return


def _read_ledger(path: Path) -> list[dict[str, str | None]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            entries.append(json.loads(line))
    return entries


def _count_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0
