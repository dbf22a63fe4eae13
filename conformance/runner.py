"""`conformance run`: one conformance run, from configuration to verdict and exit code.

The run is resolved once, here, into a run plan (conformance/plan.py). The checks run in a
child pytest process (the engine), so that a run has a hard deadline that holds whatever the
target does: if the child overruns, it is killed and the run says so. The child reads the plan
file and nothing else; tokens reach it through its environment, never its command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import catalogue, expectations, plan, preflight
from conformance.client import ApiClient
from conformance.config import RunConfig, secret_variables
from conformance.errors import ConfigError, ConformanceError, PreflightFailed
from conformance.evidence_log import EvidenceLog
from conformance.forkserver import ForkServer
from conformance.outcomes import Outcome
from conformance.redaction import Redactor
from conformance.reports.evidence_files import phase_of
from conformance.request_budget import budget_limiter
from conformance.selection import canonical_requirements, partial_scope
from conformance.sweep import Sweeper, SweepReport
from conformance.verdict import Verdict, aggregate, exit_code, read_results, table

# Each phase is a pytest package of checks tagged with requirement IDs; a phase whose
# package is not installed is simply absent.
PHASES = {
    "scenarios": "conformance.scenarios",
    "fuzz": "conformance.fuzz",
    "contracts": "conformance.contracts",
    "model": "conformance.model",
}


# The folder that holds the conformance package (a checkout, or site-packages).
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


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
    expect: Path | None = None  # expectation file (conformance/expectations.py)
    rerun_failed: Path | None = None  # an earlier run folder: run only its checks that did not pass
    compare: Path | None = None  # an earlier run folder to compare with; default: the newest comparable one
    shuffle_seed: int | None = None  # run the checks in a random order (the flake gate)
    model_replay: str | None = None  # the model phase: tell this saved story (--replay)
    model_preset: str | None = None  # the model phase's budget preset (--model-preset)


@dataclass
class RunOutcome:
    config: RunConfig
    verdicts: list[Verdict]
    exit_code: int
    reason: str
    run_dir: Path
    seconds: float
    expectation_problems: list[str] = field(default_factory=list)
    published: Any = None  # conformance.reports.publish.Published, when the reports were written
    partial: str = ""  # what a restricted run covered (selection.partial_scope); "" for a full run


def pytest_command(
    request: RunRequest,
    config: RunConfig,
    results: Path | None,
    workers: int,
    targets: list[str] | None = None,
    workdir: Path | None = None,
) -> list[str]:
    """The engine's command line; `targets` (check files/node ids) replaces the phase packages;
    pytest's temporary folders go under `workdir` (the run's private folder) when given."""
    # Everything about the run (configuration, selection, faults) is in the plan file the child
    # reads (RTKC_PLAN); the command line holds only how the engine runs and reports.
    phases = request.phases or available_phases()
    what = targets if targets is not None else ["--pyargs", *(PHASES[p] for p in phases)]
    args = [
        sys.executable,
        "-m",
        "pytest",
        *what,
        # The suite's plugin, loaded for this run only (it registers no entry point), and the
        # only installed plugins the checks use. Nothing else is loaded (_child_env turns off
        # autoloading): pytest rewrites the asserts of every module of every autoloaded plugin's
        # package (all of hypothesis and schemathesis), and where bytecode is not cached
        # (PYTHONDONTWRITEBYTECODE) it did so in every engine process, ~1.5 CPU-s each.
        "-p",
        "conformance.plugin",
        "-p",
        "pytest_asyncio.plugin",
        "-p",
        "pytest_timeout",
        *(["-p", "xdist.plugin"] if workers > 1 else []),
        "-p",
        "no:cacheprovider",
        # Node ids are then conformance/<phase>/test_x.py::test_y from any working directory,
        # so runs compare and re-run wherever they were started.
        "--rootdir",
        str(PACKAGE_ROOT),
        # No conftest: everything the checks need is in the plugin. Started from a checkout,
        # pytest loads the conftest of every test* folder of the working directory, and the
        # project's own tests/conftest.py ran its hooks in every engine (measured: a new
        # numbered temp folder and the clean-up of old ones, ~0.5 s, per run).
        "--noconftest",
        # The checks judge with `must` and carry their own messages; no bare assert is left
        # for pytest to rewrite (tests/test_catalogue.py holds them to it), and rewriting every
        # check module on every start cost ~0.4 CPU-s a run where bytecode is not cached.
        "--assert=plain",
        # xdist gives its workers temporary folders; under the user's own
        # /tmp/pytest-of-<user>, each run would add a numbered one and delete old ones.
        *(["--basetemp", str(workdir / "pytest")] if workdir is not None else []),
        *(["--rtkc-results", str(results)] if results is not None else []),
        f"--timeout={config.limits.check_timeout_seconds:g}",
        "--no-header",
        "-rN",
        "--tb=no",
        # The suite prints one line per check in its verdict's words (plugin --rtkc-progress);
        # pytest's own lines and totals ("FAILED", "56 errors") would contradict the verdict.
        "-qq",
        "--rtkc-progress",
        "-o",
        "console_output_style=classic",
        # Outside the checkout no pyproject sets this, and pytest-asyncio then warns on every run.
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-p",
        "no:warnings",
    ]
    if workers > 1:
        args += ["-n", str(workers), "--rtkc-campaign-first"]
    return args


def default_workers(config: RunConfig) -> int:
    # The embedded reference runs once per worker, so its clock is never shared; a
    # configured target has one clock, and timer checks would disturb each other.
    return 2 if not config.target.base_url and (os.cpu_count() or 1) > 1 else 1


def _shared_target(config: RunConfig) -> bool:
    """A configured target: one server for every process of the run (the embedded reference
    is one per test process)."""
    return bool(config.target.base_url)


def _workers(request: RunRequest, config: RunConfig) -> int:
    if not _shared_target(config):
        return request.workers or default_workers(config)
    if (request.workers or 1) > 1:
        # Measured: two workers against one reference heard each other's meeting.ended and
        # meeting.started on their webhook channels and failed WH-03 and PERM-01. A false
        # FAIL is the one thing this suite must never print, so a shared target gets one.
        print(
            f"note: --workers {request.workers} ignored: a configured target is one account with one clock, "
            "and checks run side by side there would hear each other's webhooks; running with 1 worker",
            file=sys.stderr,
        )
    return 1


def resolve(request: RunRequest, rate_window: Path | None = None) -> tuple[plan.RunPlan, RunConfig]:
    """The run plan for this request, and its configuration (with tokens) for this process."""
    unknown_phases = [p for p in request.phases if p not in available_phases()]
    if unknown_phases:
        raise ConfigError(f"unknown phase(s): {', '.join(unknown_phases)}; available: {', '.join(available_phases())}")
    # Typed ids become the catalogue's spelling here (end-02 → END-02), or a did-you-mean error.
    request.requirements = canonical_requirements(request.requirements, catalogue.load().ids())
    return plan.resolve(
        request.config_path,
        request.overrides,
        os.environ,
        tuple(request.faults),
        requirements=tuple(request.requirements),
        shuffle_seed=request.shuffle_seed,
        rate_window=str(rate_window) if rate_window is not None else None,
        model_replay=request.model_replay,
        model_preset=request.model_preset,
    )


def _child_env(plan_file: Path, config: RunConfig) -> dict[str, str]:
    """The engine's environment: the plan file, the tokens as literal variables, and no other
    RTKC_* setting (so nothing below the runner can read a setting the plan does not hold)."""
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("RTKC_")},
        **secret_variables(config),
        plan.PLAN_ENV: str(plan_file),
        "PACT_DO_NOT_TRACK": "true",
        # Only the plugins pytest_command names (xdist hands them on to its workers).
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def _preflight_problem(request: RunRequest, config: RunConfig) -> str:
    """One line saying why the configured target cannot be run against, or "" to go on."""
    if not _shared_target(config):
        return ""  # the embedded reference is built with matching credentials
    try:
        preflight.check(config)
    except PreflightFailed as problem:
        return f"no check ran: {problem}"
    return ""


def rerun_targets(run_dir: Path) -> tuple[list[str], set[str]]:
    """The checks of an earlier run that did not pass, as pytest targets (absolute node ids
    under PACKAGE_ROOT), and their requirement IDs."""
    from conformance.outcomes import NOT_PASSED
    from conformance.reports.latest import resolve
    from conformance.reports.stream import load

    targets, ids = [], set()
    for check in load(resolve(run_dir)).checks.values():
        if check.outcome in NOT_PASSED:
            targets.append(str(PACKAGE_ROOT / check.nodeid))
            ids.update(check.requirements)
    return targets, ids


def list_checks(request: RunRequest) -> tuple[str, int]:
    """What a run with this request would run, without running it: (text, exit code)."""
    the_plan, config = resolve(request)
    targets = rerun_targets(request.rerun_failed)[0] if request.rerun_failed else None
    if targets == []:
        return f"nothing to re-run: every check of {request.rerun_failed} passed", 0
    with tempfile.TemporaryDirectory(prefix="rtkc-list-") as tmp:
        collected = Path(tmp) / "collected.jsonl"
        plan_file = the_plan.write(Path(tmp) / "plan.json")
        command = [
            *pytest_command(request, config, None, 1, targets, Path(tmp)),
            "--collect-only",
            "-q",
            "--rtkc-collected",
            str(collected),
        ]
        child = subprocess.run(
            command, env=_child_env(plan_file, config), capture_output=True, text=True, timeout=120, check=False
        )
        if child.returncode not in (0, 5) or not collected.exists():
            tail = (child.stdout + child.stderr).strip().splitlines()[-15:]
            raise ConfigError("could not collect the checks:\n" + "\n".join(tail))
        checks = read_results(collected)
    levels = {r.id: r.level for r in catalogue.load().requirements}
    lines = [
        f"{','.join(c['requirements']):<12} {'/'.join(levels[r] for r in c['requirements']):<7} "
        f"{c['profile']:<10} {c['nodeid']}"
        for c in checks
    ]
    covered = {rid for c in checks for rid in c["requirements"]}
    claimed = [
        r.id
        for r in catalogue.load().for_profiles(config.target.profiles)
        if not request.requirements or r.id in request.requirements
    ]
    phases = ", ".join(request.phases or available_phases())
    lines += [
        "",
        f"{len(checks)} check(s) of {len(covered)} requirement(s) would run "
        f"(profiles: {', '.join(config.target.profiles)}; phases: {phases})",
    ]
    silent = [rid for rid in claimed if rid not in covered]
    if silent and targets is None:
        lines.append(f"claimed but no check selected: {', '.join(silent)}")
    lines += timer_warnings(config, covered)
    unclaimed = [p for p in catalogue.OPT_IN_PROFILES if p not in config.target.profiles]
    if unclaimed:
        lines.append(
            f"not claimed (opt-in, rests on the suite's definitions): {', '.join(unclaimed)}; "
            "claim with --profile or target.profiles"
        )
    return "\n".join(lines), 0


def timer_warnings(config: RunConfig, selected: set[str]) -> list[str]:
    """Selected checks that wait for the target's own timers and will be NOT RUN (exit 2) as
    configured: no test clock and too small a real-time budget (docs/test-clock.md)."""
    if config.time.control == "test-clock":
        return []
    needs = {"LEAVE-04": 61.0}
    needs.update({rid: config.time.host_grace_seconds + 1 for rid in ("CLASS-01", "CLASS-02", "CLASS-03")})
    short = {rid: s for rid, s in needs.items() if rid in selected and s > config.time.real_time_budget_seconds}
    if not short:
        return []
    longest = max(short.values())
    return [
        f"warning: {', '.join(sorted(short))} will be NOT RUN: they need up to {longest:.0f} s of target time; "
        f'set time.control = "test-clock" or time.real_time_budget_seconds >= {longest:.0f} '
        "(and limits.check_timeout_seconds above it)"
    ]


def run(request: RunRequest, engines: ForkServer | None = None) -> RunOutcome:
    """`engines`: a pre-loaded engine to fork the run's engine from (quiet runs only: the
    selftest's), instead of starting a fresh `python -m pytest`."""
    # The run's private files (its plan, its shared request budget) live here, and go with it.
    workdir = Path(tempfile.mkdtemp(prefix="rtkc-run-"))
    try:
        return _run(request, workdir, engines)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _start_engine(
    command: list[str], env: dict[str, str], timeout: float, log: Path | None, engines: ForkServer | None
) -> int:
    """The engine's return code; subprocess.TimeoutExpired once it has been stopped at `timeout`."""
    if engines is not None and log is not None:
        return engines.run(command, env, timeout, log)
    with log.open("w", encoding="utf-8") if log is not None else contextlib.nullcontext() as out:
        child = subprocess.run(
            command, env=env, timeout=timeout, check=False, stdout=out, stderr=subprocess.STDOUT if out else None
        )
    return child.returncode


def _run(request: RunRequest, workdir: Path, engines: ForkServer | None = None) -> RunOutcome:
    from conformance.reports import latest, publish
    from conformance.reports.stream import load

    started = time.monotonic()
    started_at = datetime.now(UTC)
    the_plan, config = resolve(request, workdir / "window")
    expect = expectations.load(request.expect, catalogue.load()) if request.expect else None
    if request.compare is not None:
        load(latest.resolve(request.compare))  # an unreadable folder is a usage error, before anything runs
    compare_with = request.compare  # None: publish picks an earlier run of the same target and selection
    targets, rerun_ids = rerun_targets(request.rerun_failed) if request.rerun_failed else (None, set())
    if targets == []:
        return RunOutcome(
            config,
            [],
            0,
            f"nothing to re-run: every check of {request.rerun_failed} passed",
            request.rerun_failed,
            time.monotonic() - started,
        )
    run_dir = config.reports_dir / config.run_id
    problem = _preflight_problem(request, config)
    if problem:
        # Before any check, sweep or report: a wrong token or id is one line, not a table of FAILs.
        return RunOutcome(config, [], 2, problem, run_dir, time.monotonic() - started)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = run_dir / "results.jsonl"
    results.unlink(missing_ok=True)
    publish.clear(run_dir)
    workers = _workers(request, config)
    window = Path(the_plan.rate_window) if the_plan.rate_window else None
    env = _child_env(the_plan.write(workdir / "plan.json"), config)
    command = pytest_command(request, config, results, workers, targets, workdir)
    reason = ""
    log = run_dir / "engine.log" if request.quiet else None
    if log is not None:
        log.write_text("", encoding="utf-8")
    sweep_target(config, "stale", window)
    try:
        returncode = _start_engine(command, env, config.limits.run_deadline_seconds, log, engines)
        if returncode not in (0, 1) and not results.exists():
            reason = f"the test engine stopped with exit code {returncode} before any check ran"
    except subprocess.TimeoutExpired:
        reason = f"the run exceeded its deadline of {config.limits.run_deadline_seconds:g}s and was stopped"
    finally:
        # Whatever happened to the test process (crash, deadline, Ctrl-C), this run's
        # resources on a configured target are retired from here.
        cleanup = sweep_target(config, "current", window)
        if cleanup is not None and isinstance(sys.exc_info()[1], KeyboardInterrupt):
            # No summary follows an interrupt: say here what the sweep did.
            left = f"; left behind: {', '.join(cleanup.failed)}" if cleanup.failed else ""
            retired = len(cleanup.retired)
            print(f"conformance: retired {retired} resource(s) of run {config.run_id}{left}", file=sys.stderr)
    for lock in run_dir.glob(".*.lock"):
        # A phase's lock (the fuzz campaign's) guards the run while it runs; a finished run
        # folder holds only the documented files.
        lock.unlink(missing_ok=True)
    if cleanup is not None:
        # Reported with the traffic: what a run leaves behind does not change its verdict.
        (run_dir / "traffic").mkdir(exist_ok=True)
        (run_dir / "traffic" / "sweep.json").write_text(
            json.dumps(
                {
                    "requests": 0,
                    "throttled": 0,
                    "rate_limit_waits": 0,
                    "left_behind": cleanup.failed,
                    "retired": cleanup.retired,
                }
            ),
            encoding="utf-8",
        )
    only = set(request.requirements) or None
    if targets is not None:
        only = rerun_ids & only if only else rerun_ids
    today = datetime.now(UTC).date()
    records = expectations.mark(read_results(results), expect, today)
    if request.phases and set(request.phases) != set(available_phases()):
        # A run of some phases judges the requirements those phases checked; with no record
        # at all it judges everything claimed (all NOT RUN), never nothing.
        seen = {rid for record in records for rid in record["requirements"]}
        if seen:
            only = only & seen if only else seen
    verdicts = aggregate(catalogue.load(), config.target.profiles, records, only)
    problems = expectations.problems(verdicts, expect, today)
    code = exit_code(verdicts, problems)
    if reason:
        code = max(code, 2) if code != 1 else 1
    # Reports are written whatever happened; a failure to write them is the suite's, never a pass.
    published = None
    try:
        ran = sorted(
            {phase_of(Path(t).relative_to(PACKAGE_ROOT).as_posix()) for t in targets}
            if targets is not None
            else set(request.phases or available_phases())
        )
        meta = publish.meta(
            config,
            started=started_at,
            seconds=time.monotonic() - started,
            requirements=sorted(only) if only else [],
            phases=ran or request.phases or available_phases(),
            available_phases=available_phases(),
            faults=request.faults,
            exit_code=code,
            reason=reason,
            reproduce=publish.reproduce_args(request.config_path, request.overrides, request.faults),
            rerun_of=request.rerun_failed,
            expectations_file=request.expect,
        )
        published = publish.publish(run_dir, meta, records, verdicts, problems, compare_with)
    except Exception as exc:  # the verdict must still be told
        reason = "; ".join(filter(None, [reason, f"the reports could not be written: {type(exc).__name__}: {exc}"]))
        code = code or 2
    scope = partial_scope(
        request.requirements, request.phases, available_phases(), request.rerun_failed, config.fuzz.operations
    )
    return RunOutcome(config, verdicts, code, reason, run_dir, time.monotonic() - started, problems, published, scope)


def sweep_target(config: RunConfig, which: str, window: Path | None = None) -> SweepReport | None:
    """Retire other runs' stale leftovers ("stale") or this run's resources ("current").

    Only for a configured target: the embedded reference lives and dies with the test process.
    """
    if not config.target.base_url or not config.tokens.admin:
        return None

    async def sweep() -> SweepReport:
        evidence = EvidenceLog(Redactor(config.secrets()))
        limiter = budget_limiter(config.limits.requests_per_10s, window)
        async with ApiClient(config, evidence, limiter) as api:
            sweeper = Sweeper(api)
            if which == "stale":
                return await sweeper.stale(config.run_id, config.limits.run_deadline_seconds)
            return await sweeper.current(config.run_id)

    try:
        return asyncio.run(asyncio.wait_for(sweep(), config.limits.run_deadline_seconds))
    except (ConformanceError, TimeoutError) as error:
        return SweepReport(failed=[f"cleanup sweep could not run: {error}"])


def traffic_lines(run_dir: Path) -> list[str]:
    """What the run asked of the target, 429s counted apart, and what it could not clean."""
    requests = throttled = waits = 0
    left: list[str] = []
    for path in sorted((run_dir / "traffic").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        requests += data["requests"]
        throttled += data["throttled"]
        waits += data["rate_limit_waits"]
        left += data["left_behind"]
    if not requests and not left:
        return []
    lines = [f"traffic: {requests} API requests by the scenarios, {throttled} answered 429, {waits} rate-limit waits"]
    lines += [f"left behind on the target: {item}" for item in left]
    return lines


def summary(outcome: RunOutcome) -> str:
    verdict = {
        0: "CONFORMANT: every claimed MUST passed",
        1: "NOT CONFORMANT: the implementation failed a requirement",
        2: "NO VERDICT: the suite could not run every claimed check",
    }[outcome.exit_code]
    if not outcome.verdicts and outcome.reason:
        return outcome.reason
    if outcome.exit_code == 1 and not any(v.outcome == Outcome.FAIL for v in outcome.verdicts):
        verdict = "NOT CONFORMANT: the expectation file has a stale or expired entry"
    if outcome.exit_code == 0 and outcome.partial:
        # Passing part of the suite is no claim of conformance.
        verdict = f"PARTIAL: every MUST of this selection passed ({outcome.partial}); no conformance verdict"
    lines = ["", table(outcome.verdicts), ""]
    lines += [f"expectation: {p}" for p in outcome.expectation_problems]
    lines += traffic_lines(outcome.run_dir)
    published = outcome.published
    if published is not None:
        comparison = published.run.comparison
        if comparison is not None:
            lines.append(
                f"compared with {comparison.before_id}: {len(comparison.new_failures)} new failure(s), "
                f"{len(comparison.fixed)} fixed, {len(comparison.flipped)} flipped"
            )
        if published.run.comparison_note:
            lead = "note" if comparison is not None else "no comparison"
            lines.append(f"{lead}: {published.run.comparison_note}")
        lines.append(f"report: {published.html}")
        lines.append(
            f"certificate: {published.certificate}"
            if published.certificate
            else f"no certificate: {published.run.certificate_refusal}"
        )
    lines.append(f"{verdict} ({outcome.seconds:.1f}s, results in {outcome.run_dir})")
    if outcome.reason:
        lines.append(f"reason: {outcome.reason}")
    return "\n".join(lines)
