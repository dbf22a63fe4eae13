"""The fuzz phase end to end: check the target answers, run the campaign, read its findings,
clean up, file the evidence — once per `conformance run`.

Under pytest-xdist the phase's checks may land on different worker processes; the first one
to get here runs the campaign while holding a lock, and the others wait for and read its
outcome, so the target is fuzzed once per run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import ConformanceError, SuiteCouldNotRun, TargetTimeout, TargetUnreachable
from conformance.fuzz import campaign
from conformance.fuzz.budget import budget_for, deadline_seconds
from conformance.fuzz.cleanup import clean_up
from conformance.fuzz.findings import CampaignReport, read_report, request_log
from conformance.fuzz.outcome import Outcome
from conformance.fuzz.safety import name_prefix

OUTCOME_FILE = "campaign.json"
CLEANUP_SECONDS = 120.0  # on top of the campaign's deadline, for the cleanup requests


@dataclass(frozen=True)
class Place:
    evidence: Path  # the campaign's files, and the outcome the other processes read
    lock: Path  # held by the process running the campaign


def place_for(run_dir: Path | None, testrun: str | None) -> Place:
    """The run's evidence folder; or, for pytest without `conformance run`, a temp folder."""
    if run_dir is not None:
        from conformance.reports.evidence_files import phase_dir

        return Place(phase_dir(run_dir, "fuzz"), run_dir / ".fuzz-campaign.lock")
    if testrun is not None:  # xdist workers of one session meet there
        folder = Path(tempfile.gettempdir()) / f"rtkc-fuzz-{testrun}"
        folder.mkdir(exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="rtkc-fuzz-evidence-"))
    return Place(folder, folder / ".lock")


async def shared_outcome(
    harness: Any, place: Place, testrun: str | None, embedded: bool, announce: Callable[[str], None]
) -> Outcome:
    """The run's campaign outcome: produced here, or read from the process that produced it."""
    budget = budget_for(harness.config.fuzz)
    limit = None if embedded else harness.config.limits.requests_per_10s
    wait = deadline_seconds(budget, limit) + CLEANUP_SECONDS
    lock = place.lock.open("w")
    try:
        try:
            await asyncio.wait_for(asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX), wait)
        except TimeoutError:
            raise SuiteCouldNotRun(f"another process held the fuzz campaign for over {wait:.0f} s") from None
        stored = place.evidence / OUTCOME_FILE
        if testrun is not None and stored.exists():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                previous = Outcome.load(stored)
                if previous.testrun == testrun:
                    return previous
        outcome = await fuzz(harness, place.evidence, embedded, announce)
        outcome.testrun = testrun
        outcome.save(stored)
        return outcome
    finally:
        lock.close()  # closing the file releases the lock


async def fuzz(harness: Any, workdir: Path, embedded: bool, announce: Callable[[str], None]) -> Outcome:
    config = harness.config
    budget = budget_for(config.fuzz)
    seed = config.fuzz.seed if config.fuzz.seed is not None else secrets.randbelow(2**31)
    scope = f"; only {', '.join(config.fuzz.operations)}" if config.fuzz.operations else ""
    announce(f"fuzz phase: seed {seed} ({budget.describe()}{scope}); replay with --seed {seed}")
    outcome = Outcome(seed=seed, budget=budget.describe() + scope)
    refusal = await _preflight(harness.api)
    if refusal is not None:
        outcome.problem_kind, outcome.problem = refusal
        return outcome
    limit = None if embedded else config.limits.requests_per_10s
    plan = campaign.Plan(
        target=campaign.Target(
            base_url=config.target.base_url,
            account_id=config.target.account_id,
            app_id=config.target.app_id,
            token=config.tokens.admin,
            requests_per_10s=limit,
            request_timeout=config.limits.request_timeout_seconds,
            rate_window=None if embedded or harness.rate_window is None else str(harness.rate_window),
        ),
        budget=budget,
        seed=seed,
        run_id=config.run_id,
        deadline=deadline_seconds(budget, limit),
        operations=config.fuzz.operations,
        phases=campaign.phases_for(config.fuzz.operations),
    )
    result = await campaign.run(plan)
    try:
        report = read_report(result.events, harness.redactor)
        outcome.requests, outcome.seconds = report.requests, result.seconds
        outcome.findings, outcome.throttled = report.findings, result.throttled
        _judge(outcome, report, result)
        if outcome.findings:
            announce(outcome.printout(str(workdir)))
        _file_evidence(workdir, result, report, harness.redactor)
    finally:
        # Whatever happened above, what the campaign created is retired.
        outcome.left_behind = await clean_up(harness.api, result.ledger, name_prefix(config.run_id))
        result.discard()
    return outcome


async def _preflight(api: Any) -> tuple[str, str] | None:
    """Before fuzzing: does the target answer a plain list request with the admin token?

    Returns (problem kind, reason) when fuzzing would only repeat one answer thousands of times.
    """
    what = "GET /meetings?per_page=1 with the admin token"
    try:
        response = await api.request("GET", "/meetings", params={"per_page": 1})
    except TargetUnreachable as exc:
        return "unreachable", str(exc)
    except TargetTimeout as exc:
        return "timeout", f"{what}: {exc}"
    except ConformanceError as exc:
        return "broken", f"{what}: {exc}"
    if response.status in (401, 403):
        return "unauthorized", (
            f"the target refuses the configured admin token ({what} answered {response.status}); "
            "every fuzzed request would be refused, which tests nothing"
        )
    if response.status >= 500:
        return "server_error", f"{what} answered {response.status}: {response.body_excerpt(200)}"
    return None


def _judge(outcome: Outcome, report: CampaignReport, result: campaign.Result) -> None:
    """Decide whether the campaign tested the implementation at all."""
    tail = " ".join(result.output.strip().splitlines()[-3:])[:300]
    # schemathesis exits 1 on an excused failure too (a method Cloudflare has): it found something.
    found = bool(outcome.findings or report.excused)
    if report.unreachable:
        outcome.problem_kind = "unreachable"
        outcome.problem = f"{len(report.unreachable)} request(s) got no answer, e.g. {report.unreachable[0][:300]}"
    elif report.all_authenticated_refused():
        outcome.problem_kind = "unauthorized"
        outcome.problem = "the target answered 401 to every request that carried the admin token"
    elif result.exit_code is None and found:  # what it found before the deadline stands
        outcome.budget += f"; stopped at its deadline after {result.seconds:.0f} s"
    elif result.exit_code is None:
        outcome.problem_kind = "incomplete"
        outcome.problem = f"the campaign did not finish within its deadline of {result.seconds:.0f} s"
    elif report.requests == 0:
        outcome.problem_kind = "broken"
        outcome.problem = f"schemathesis sent no request (exit code {result.exit_code}): {tail}"
    elif report.errors and not found:
        outcome.problem_kind = "broken"
        outcome.problem = f"schemathesis reported {len(report.errors)} error(s), e.g. {report.errors[0][:300]}"
    elif result.exit_code != 0 and not found:
        outcome.problem_kind = "broken"
        outcome.problem = f"schemathesis stopped with exit code {result.exit_code} and no finding: {tail}"


def _file_evidence(workdir: Path, result: campaign.Result, report: CampaignReport, redactor: Any) -> None:
    (workdir / "schemathesis-output.txt").write_text(redactor.redact_text(result.output), encoding="utf-8")
    with (workdir / "requests.jsonl").open("w", encoding="utf-8") as fh:
        for entry in request_log(report.interactions, report.server_values):
            fh.write(redactor.redact_text(json.dumps(entry, ensure_ascii=False)) + "\n")
