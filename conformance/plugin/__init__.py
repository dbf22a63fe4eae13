"""The pytest plugin: pytest is the suite's engine, `conformance run` its friendly face.

It is loaded only when asked for: `conformance run` starts its engine with
`-p conformance.plugin`, and so can a user running the checks with pytest directly
(`pytest -p conformance.plugin --pyargs conformance.scenarios`). It registers no entry point,
so a vendor's own pytest runs in the same environment never see it. Its marker and options
are namespaced (`rtkc_requirement`, `--rtkc-*`) and its state lives in pytest stash keys.

Three concerns, one module each:
- selection: which checks run (the run plan's requirements and claimed profiles), and in
  what order (the flake gate's shuffle, the xdist scheduler);
- recording: each check's outcome in the verdict's words, its evidence, one JSON line per
  check in the results stream, and the progress lines;
- fixtures: `harness` (the world: target, clients, drivers, webhook receiver) and `scenario`.
"""

import gc

import pytest

from conformance.plugin.recording import RESULT_KEY, classify
from conformance.plugin.state import MARKER, pending_record, plan_of

pytest_plugins = ["conformance.plugin.selection", "conformance.plugin.recording", "conformance.plugin.fixtures"]

__all__ = ["MARKER", "RESULT_KEY", "classify", "pending_record", "plan_of"]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    # Everything imported and collected by now lives as long as the engine: moved out of the
    # collector's sight, the collections during the checks and pytest's own at the end no
    # longer walk it (measured: a one-requirement run, ~1.2 -> ~1.1 CPU-s).
    gc.freeze()
