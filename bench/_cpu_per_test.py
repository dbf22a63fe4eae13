"""A pytest plugin for bench/test_time.py: the CPU each test cost and its wall time (setup and
teardown included), written as one JSON line per test to the file named by RTKC_BENCH_CPU.

A test's cost is the CPU its process (an xdist worker, or the lone pytest) used during the test,
plus that of every child process it waited for (`RUSAGE_CHILDREN`: a `conformance run`, and its
engine, below it). A session fixture's work lands on the first test that needed it; threads of
another test's fixtures cannot run in the same worker at the same time, so they do not blur it.
"""

from __future__ import annotations

import json
import os
import resource
import time

import pytest


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    started, wall, at = _cpu(), time.perf_counter(), time.time()
    yield
    path = os.environ.get("RTKC_BENCH_CPU")
    if path:
        with open(path, "a", encoding="utf-8") as out:  # one short line per write: workers append safely
            out.write(
                json.dumps(
                    {
                        "nodeid": item.nodeid,
                        "cpu": round(_cpu() - started, 2),
                        "wall": round(time.perf_counter() - wall, 2),
                        "start": round(at, 2),  # for a timeline of the session (epoch seconds)
                        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
                    }
                )
                + "\n"
            )
