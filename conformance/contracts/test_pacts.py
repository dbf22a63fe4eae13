"""The target as provider of every committed consumer pact: one check per interaction.

Each check names the interaction (`<consumer>: <description>`) and carries the requirement
it evidences (`conformance.contracts.requirements`). It passes only when the pact verifier
checked that very interaction and found no difference. Otherwise the message gives the
verifier's own words, and `<run dir>/contracts/<interaction>.txt` its whole report, body
diff included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from conformance.contracts import broker, pacts
from conformance.contracts.callbacks import Callbacks
from conformance.contracts.requirements import requirement_of
from conformance.contracts.verification import failures_section, judge, step_seconds, verify, write_report
from conformance.errors import ConformanceError, ImplementationFailed
from conformance.outcomes import Outcome

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _checks() -> Iterator[Any]:
    found = pacts.interactions()
    if not found:  # a phase that verifies nothing must not look like a pass
        raise RuntimeError("no pact interactions found: the contracts phase has nothing to verify")
    for interaction in found:
        requirement = requirement_of(interaction)
        if requirement is None:
            raise RuntimeError(f"pact interaction {interaction.key!r} is not mapped to a requirement")
        yield pytest.param(interaction, id=interaction.key, marks=pytest.mark.rtkc_requirement(requirement))


def run_dir(config: pytest.Config, harness: Any) -> Path:
    results = config.getoption("--rtkc-results")
    return Path(results).parent if results else harness.config.reports_dir / harness.config.run_id


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def callbacks(harness: Any, request: pytest.FixtureRequest) -> AsyncIterator[Callbacks]:
    endpoint = Callbacks(step_seconds(harness))
    await endpoint.start()
    try:
        yield endpoint
    finally:
        await endpoint.stop()
        selected = [
            item.callspec.params["interaction"]
            for item in request.session.items
            if hasattr(item, "callspec") and "interaction" in item.callspec.params
        ]
        await broker.publish_when_complete(harness.config, run_dir(request.config, harness), selected)


@pytest.mark.parametrize("interaction", list(_checks()))
async def test_the_target_honours_the_interaction(interaction, harness, callbacks, request):
    outcome = "error"
    try:
        world, verification = await verify(interaction, harness, callbacks, request.node.nodeid)
        report = {"interaction": interaction.key, "output": verification.output}
        harness.evidence.record_event("pact.verification", report, request.node.nodeid)
        try:
            judge(interaction, world, verification, harness.redactor.redact_text)
        except ConformanceError as verdict:
            path = write_report(run_dir(request.config, harness) / "contracts", interaction, verification)
            print(failures_section(verification.output))
            verdict.message += f" (verifier report: {path})"
            outcome = Outcome.FAIL if isinstance(verdict, ImplementationFailed) else Outcome.ERROR
            raise
        outcome = Outcome.PASS
    finally:
        broker.record(harness.config, run_dir(request.config, harness), interaction, outcome)
