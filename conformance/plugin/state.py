"""What the plugin keeps between hooks: stash keys, not attributes or module globals, so two
pytest sessions in one process (a project test running pytest in-process) never share it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from conformance.config import RunConfig, secret_variables
from conformance.plan import PLAN_ENV, RunPlan, current, resolve

# The marker a check carries: @pytest.mark.rtkc_requirement("END-02"). Namespaced, so that a
# vendor's own `requirement` marker means whatever it means to them.
MARKER = "rtkc_requirement"

PLAN = pytest.StashKey[RunPlan]()
CONFIG = pytest.StashKey[RunConfig]()
EVIDENCE = pytest.StashKey[Any]()  # the harness's EvidenceLog, once the harness is open
FILED = pytest.StashKey[set[str]]()  # checks whose evidence is written
RESULTS = pytest.StashKey["Path | None"]()  # the results stream, where this process writes it
PROGRESS = pytest.StashKey[Any]()  # the terminal reporter, when --rtkc-progress asks for lines
RECORD = pytest.StashKey[dict[str, Any]]()  # an item's results line, written after teardown
STARTED = pytest.StashKey[float]()  # when an item's setup began


def requirement_ids(item: pytest.Item) -> list[str]:
    return [rid for mark in item.iter_markers(MARKER) for rid in mark.args]


def pending_record(item: pytest.Item) -> dict[str, Any] | None:
    """The results line the plugin will write for this check after its teardown (a check
    may add to its message until then)."""
    return item.stash.get(RECORD, None)


def plan_of(config: pytest.Config) -> RunPlan:
    """The run plan: the file `conformance run` named in RTKC_PLAN, or, when pytest was started
    by hand with -p conformance.plugin, one resolved here from --rtkc-config and the environment
    (and handed on to xdist workers the same way)."""
    if PLAN not in config.stash:
        plan = current()
        if plan is None:
            path = config.getoption("--rtkc-config")
            plan, resolved = resolve(Path(path) if path else None, {}, os.environ)
            folder = Path(tempfile.mkdtemp(prefix="rtkc-plan-"))
            os.environ[PLAN_ENV] = str(plan.write(folder / "plan.json"))
            os.environ.update(secret_variables(resolved))  # the plan's tokens, as the runner passes them
        config.stash[PLAN] = plan
    return config.stash[PLAN]


def config_of(config: pytest.Config) -> RunConfig:
    """The run's configuration as planned (before the embedded reference fills in its URLs)."""
    if CONFIG not in config.stash:
        config.stash[CONFIG] = plan_of(config).config()
    return config.stash[CONFIG]
