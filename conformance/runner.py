"""`conformance run`: one conformance run, from configuration to verdict and exit code.

The checks run in a child pytest process (the engine), so that a run has a hard deadline
that holds whatever the target does: if the child overruns, it is killed and the run says so.
Tokens reach the child through its environment, never through its command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance import catalogue
from conformance.config import RunConfig, load_config, overrides_as_env
from conformance.errors import ConfigError
from conformance.verdict import Verdict, aggregate, exit_code, read_results, table


# Each phase is a pytest package of checks tagged with requirement IDs; a phase whose
# package is not installed is simply absent.
PHASES = {"scenarios": "conformance.scenarios", "fuzz": "conformance.fuzz", "contracts": "conformance.contracts"}


def available_phases() -> list[str]:
    import importlib.util

    return [name for name, package in PHASES.items() if importlib.util.find_spec(package) is not None]


@dataclass
class RunRequest:
    config_path: Path | None = None
    overrides: dict[str, object] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    workers: int | None = None
    quiet: bool = False
    phases: list[str] = field(default_factory=list)  # empty: every available phase


@dataclass
class RunOutcome:
    config: RunConfig
    verdicts: list[Verdict]
    exit_code: int
    reason: str
    run_dir: Path
    seconds: float


def pytest_command(request: RunRequest, config: RunConfig, results: Path, workers: int) -> list[str]:
    phases = request.phases or available_phases()
    args = [
        sys.executable, "-m", "pytest", "--pyargs", *(PHASES[p] for p in phases),
        "-p", "no:cacheprovider", "-p", "no:pact", "-p", "no:hypothesispytest",
        "--rtkc-results", str(results),
        f"--timeout={config.limits.check_timeout_seconds:g}",
        "--no-header", "-rN", "--tb=no", "-q" if request.quiet else "-v",
    ]
    if request.config_path:
        args += ["--rtkc-config", str(request.config_path)]
    if request.requirements:
        args += ["--rtkc-requirements", ",".join(request.requirements)]
    for fault in request.faults:
        args += ["--rtkc-reference-fault", fault]
    if workers > 1:
        args += ["-n", str(workers)]
    return args


def default_workers(config: RunConfig) -> int:
    # The embedded reference runs once per worker, so its clock is never shared; a
    # configured target has one clock, and timer checks would disturb each other.
    return 2 if not config.target.base_url and (os.cpu_count() or 1) > 1 else 1


def run(request: RunRequest) -> RunOutcome:
    started = time.monotonic()
    config = load_config(request.config_path, os.environ, request.overrides)
    unknown_phases = [p for p in request.phases if p not in available_phases()]
    if unknown_phases:
        raise ConfigError(f"unknown phase(s): {', '.join(unknown_phases)}; available: {', '.join(available_phases())}")
    known = set(catalogue.load().ids())
    unknown = [r for r in request.requirements if r not in known]
    if unknown:
        raise ConfigError(f"unknown requirement id(s): {', '.join(unknown)}")
    run_dir = config.reports_dir / config.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    results = run_dir / "results.jsonl"
    results.unlink(missing_ok=True)
    workers = request.workers or default_workers(config)
    env = {**os.environ, **overrides_as_env(request.overrides), "RTKC_RUN_ID": config.run_id,
           "PACT_DO_NOT_TRACK": "true"}
    command = pytest_command(request, config, results, workers)
    reason = ""
    log = (run_dir / "engine.log").open("w", encoding="utf-8") if request.quiet else None
    try:
        child = subprocess.run(command, env=env, timeout=config.limits.run_deadline_seconds, check=False,
                               stdout=log, stderr=subprocess.STDOUT if log else None)
        if child.returncode not in (0, 1) and not results.exists():
            reason = f"the test engine stopped with exit code {child.returncode} before any check ran"
    except subprocess.TimeoutExpired:
        reason = f"the run exceeded its deadline of {config.limits.run_deadline_seconds:g}s and was stopped"
    finally:
        if log is not None:
            log.close()
    only = set(request.requirements) or None
    verdicts = aggregate(catalogue.load(), config.target.profiles, read_results(results), only)
    code = exit_code(verdicts)
    if reason:
        code = max(code, 2) if code != 1 else 1
    return RunOutcome(config, verdicts, code, reason, run_dir, time.monotonic() - started)


def summary(outcome: RunOutcome) -> str:
    verdict = {0: "CONFORMANT: every claimed MUST passed", 1: "NOT CONFORMANT: the implementation failed a requirement",
               2: "NO VERDICT: the suite could not run every claimed check"}[outcome.exit_code]
    lines = ["", table(outcome.verdicts), "", f"{verdict} ({outcome.seconds:.1f}s, results in {outcome.run_dir})"]
    if outcome.reason:
        lines.append(f"reason: {outcome.reason}")
    return "\n".join(lines)
