"""Which checks run, in which order: the run plan's requirements and claimed profiles, the
flake gate's shuffle, and the xdist scheduling that keeps the fuzz campaign and the model
walk on one worker each."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conformance import catalogue
from conformance.plugin.state import MARKER, config_of, plan_of, requirement_ids


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtimekit-conformance")
    group.addoption(
        "--rtkc-config",
        default=None,
        help="target configuration TOML, when pytest is started by hand (conformance run passes a run plan)",
    )
    group.addoption("--rtkc-collected", default=None, help="write the selected checks here as JSON lines (--list)")
    group.addoption(
        "--rtkc-campaign-first",
        action="store_true",
        help="under xdist, give the fuzz campaign a worker before anything else (scheduling.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(*ids): requirement IDs this check verifies")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if not config.getoption("--rtkc-campaign-first"):
        return None
    from conformance.scheduling import CampaignFirstScheduling

    return CampaignFirstScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = [item for item in items if item.get_closest_marker(MARKER)]
    if not checks:
        return  # not a conformance run: leave the items alone
    plan = plan_of(config)
    if plan.shuffle_seed is not None:
        # The flake gate: the same checks in another order must give the same outcomes.
        random.Random(plan.shuffle_seed).shuffle(items)
    known = catalogue.load()
    wanted = set(plan.requirements) or None
    profiles = config_of(config).target.profiles
    keep, drop = [], []
    for item in items:
        ids = requirement_ids(item)
        if not ids:
            keep.append(item)
            continue
        for rid in ids:
            try:
                known[rid]
            except KeyError:
                raise pytest.UsageError(f"{item.nodeid}: requirement {rid} is not in the catalogue") from None
        claimed = all(known[rid].profile in profiles for rid in ids)
        selected = wanted is None or bool(wanted & set(ids))
        (keep if claimed and selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    _campaign_first(items)


FUZZ_PACKAGE = "conformance/fuzz/"


def _campaign_first(items: list[pytest.Item]) -> None:
    """Start the fuzz campaign first, so that it overlaps the scenarios instead of following them.

    The campaign runs once per run (fuzz/phase.py), inside whichever fuzz check comes first; the
    scenarios spend most of their time waiting on events and timers, so a campaign beside them on
    another xdist worker costs little wall time, where one after them costs all of it. Only that
    one check moves; the others stay at the end and read the stored outcome. Every worker
    reorders the same way, as xdist requires."""
    first = next((item for item in items if item.nodeid.startswith(FUZZ_PACKAGE)), None)
    if first is not None and items[0] is not first:
        items.remove(first)
        items.insert(0, first)


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption("--rtkc-collected")
    if not path:
        return
    known = catalogue.load()
    with Path(path).open("w", encoding="utf-8") as fh:
        for item in session.items:
            ids = requirement_ids(item)
            if ids:
                profiles = ",".join(dict.fromkeys(known[rid].profile for rid in ids))
                fh.write(json.dumps({"nodeid": item.nodeid, "requirements": ids, "profile": profiles}) + "\n")
