"""The world a check runs in: `harness` (one per test process: the target as the run plan
describes it, the API client, participant driver and webhook receiver) and `scenario` (one
per check: its meetings and participants, cleaned up after it)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from conformance.plugin.state import EVIDENCE, config_of, plan_of


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def harness(pytestconfig: pytest.Config) -> AsyncIterator[Any]:
    from conformance.harness import Harness
    from conformance.target import embed

    plan = plan_of(pytestconfig)
    config, embedded = config_of(pytestconfig), None
    if plan.embedded:
        config, embedded = embed(config, plan.faults)
    world = Harness(config, Path(plan.rate_window) if plan.rate_window else None)
    # The recording hooks file each check's evidence from this log.
    pytestconfig.stash[EVIDENCE] = world.evidence
    try:
        await world.open()
        yield world
    finally:
        await world.close()
        if embedded is not None:
            embedded.stop()
        _write_traffic(pytestconfig, world)
        if world.ledger.left_behind:
            print("\nleft behind on the target:\n  " + "\n  ".join(world.ledger.left_behind))


@pytest_asyncio.fixture(loop_scope="session")
async def scenario(harness: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    from conformance.evidence_log import current_check
    from conformance.harness import Scenario

    token = current_check.set(request.node.nodeid)
    world = Scenario(harness, request.node.name)
    try:
        yield world
    finally:
        await world.cleanup()
        current_check.reset(token)


def _write_traffic(config: pytest.Config, world: Any) -> None:
    """This process's request counts (429s apart) and leftovers, for the run summary."""
    results = config.getoption("--rtkc-results")
    if not results:
        return
    folder = Path(results).parent / "traffic"
    folder.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (folder / f"{worker}.json").write_text(
        json.dumps(
            {
                "requests": world.api.stats.attempts,
                "throttled": world.api.stats.throttled,
                "rate_limit_waits": world.limiter.stats.waits,
                "rate_limit_waited_seconds": round(world.limiter.stats.waited_seconds, 3),
                "left_behind": world.ledger.left_behind,
            }
        ),
        encoding="utf-8",
    )
