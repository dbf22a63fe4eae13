"""Start the fuzz campaign first, so that it overlaps the scenarios instead of following them.

The campaign runs once per run (see phase.py), inside whichever fuzz check comes first; the
scenarios spend most of their time waiting on events and timers, so a campaign that runs
beside them on another xdist worker costs little wall time, where one that runs after them
costs all of it. Only that one check moves; the others stay at the end and read the stored
outcome. Every worker reorders the same way, as xdist requires.
"""

from __future__ import annotations

import pytest

FUZZ_PACKAGE = "conformance/fuzz/"


@pytest.hookimpl(trylast=True)  # after the plugin has deselected what the run does not claim
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    first = next((item for item in items if item.nodeid.startswith(FUZZ_PACKAGE)), None)
    if first is not None and items[0] is not first:
        items.remove(first)
        items.insert(0, first)
