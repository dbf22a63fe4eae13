"""The REST API under fuzzing: every generated request against openapi/realtimekit.yaml.

One schemathesis campaign per run (examples, coverage, fuzzing and stateful phases, every
check on) feeds one check per requirement its failures can count against (checks.py says
which): MUSTs where a public source backs the failure — the answers match the description
(API-01), a documented error carries Cloudflare's error schema (API-02), nothing works
without credentials (PERM-04) — and SHOULDs, which only warn, where it rests on the suite's
own choices — the envelope on every other error (API-03), 401/403 as the refusal (PERM-06),
the suite's conventions where RealtimeKit is silent (API-04). Each finding names the
schemathesis check and the operation and carries a curl reproduction; the full list is filed
with the check's evidence.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from conformance import outcomes
from conformance.errors import ImplementationFailed
from conformance.fuzz import checks
from conformance.fuzz.outcome import Outcome
from conformance.fuzz.phase import place_for, shared_outcome
from conformance.plugin import pending_record, plan_of

# The campaign stops itself at a deadline derived from its budget (see budget.py); this only
# keeps pytest-timeout's per-check default from cutting a long (nightly) campaign short.
CAMPAIGN_TIMEOUT = 4 * 3600

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(CAMPAIGN_TIMEOUT)]
requirement = pytest.mark.rtkc_requirement


def _target_is_embedded(pytestconfig: pytest.Config) -> bool:
    """The run plan says whether the plugin started the bundled reference (no base URL
    configured); it has no rate limit to keep to."""
    return plan_of(pytestconfig).embedded


def _announcer(pytestconfig: pytest.Config) -> Any:
    """Print past pytest's output capture, so the seed shows in `conformance run`'s output.

    An xdist worker's stdout is its channel to the controller; its stderr is the terminal's.
    """
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    worker = hasattr(pytestconfig, "workerinput")

    def announce(text: str) -> None:
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            # Looked up inside: while capturing, sys.stdout is pytest's buffer.
            print(f"\n{text}", file=sys.stderr if worker else sys.stdout, flush=True)

    return announce


def _run_dir(pytestconfig: pytest.Config) -> Path | None:
    results = pytestconfig.getoption("--rtkc-results")
    return Path(results).parent if results else None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def campaign(harness: Any, pytestconfig: pytest.Config) -> AsyncIterator[tuple[Outcome, Path]]:
    testrun = getattr(pytestconfig, "workerinput", {}).get("testrunuid")
    place = place_for(_run_dir(pytestconfig), testrun)
    outcome = await shared_outcome(harness, place, testrun, _target_is_embedded(pytestconfig), _announcer(pytestconfig))
    yield outcome, place.evidence


class FuzzCheck:
    """One requirement's view of the campaign."""

    def __init__(self, outcome: Outcome, workdir: Path, node: pytest.Item) -> None:
        self.outcome = outcome
        self.workdir = workdir
        self.node = node

    def verify(self, requirement_id: str) -> None:
        self.outcome.raise_if_not_run(requirement_id)
        if not self.outcome.for_requirement(requirement_id):
            return
        evidence = self._file(requirement_id)
        raise ImplementationFailed(self.outcome.failure_message(requirement_id, evidence))

    def _file(self, requirement_id: str) -> str:
        from conformance.reports.evidence_files import check_stem

        path = self.workdir / f"{check_stem(self.node.nodeid)}.txt"
        path.write_text(self.outcome.details(requirement_id), encoding="utf-8")
        return str(path)


@pytest.fixture
def fuzz(campaign: tuple[Outcome, Path], request: pytest.FixtureRequest) -> Iterator[FuzzCheck]:
    outcome, workdir = campaign
    yield FuzzCheck(outcome, workdir, request.node)
    # A passing check's results line says what was run, and how to run it again: the plugin
    # keeps the line it is about to write on the item until teardown.
    record = pending_record(request.node)
    if isinstance(record, dict) and record.get("outcome") == outcomes.Outcome.PASS and not record.get("message"):
        record["message"] = outcome.summary()


@requirement("API-01")
async def test_every_answer_matches_the_description(fuzz: FuzzCheck) -> None:
    """Status codes (a success status; an unlisted 4xx only warns), content types, headers
    and bodies as documented, and no 5xx, for every generated request and stateful chain."""
    fuzz.verify("API-01")


@requirement("API-02")
async def test_documented_errors_carry_the_error_schema(fuzz: FuzzCheck) -> None:
    """An error Cloudflare documents with realtimekit_GenericErrorResponse (the 404 of
    `GET …/active-session` with no live session, …) is {success: false, error: {code: <status>, message}}."""
    fuzz.verify("API-02")


@requirement("PERM-04")
async def test_nothing_works_without_credentials(fuzz: FuzzCheck) -> None:
    """An operation that succeeds with the admin token fails without a token, or with a bad one."""
    fuzz.verify("PERM-04")


# The SHOULDs: the plugin reports their failures as warnings, which never gate.


@requirement(checks.ENVELOPE_ELSEWHERE)
async def test_every_other_error_carries_the_envelope(fuzz: FuzzCheck) -> None:
    """Every other 4xx/5xx (401/403 aside) is {success: false, error: {code: <status>, message}}."""
    fuzz.verify(checks.ENVELOPE_ELSEWHERE)


@requirement(checks.AUTH_STATUS)
async def test_a_refusal_for_credentials_is_401_or_403(fuzz: FuzzCheck) -> None:
    """A request without valid credentials is refused with 401 or 403, not another status."""
    fuzz.verify(checks.AUTH_STATUS)


@requirement(checks.CONVENTIONS)
async def test_answers_follow_the_suites_conventions(fuzz: FuzzCheck) -> None:
    """405 for a method neither description lists, invalid input refused, valid input
    accepted, 404 after a delete, created resources readable at once, no unlisted 4xx."""
    fuzz.verify(checks.CONVENTIONS)
