"""Schemathesis hooks for the fuzz phase, registered inside the `st` child process (the
generated config names this module); the parent passes what they need in RTKC_FUZZ_*
environment variables. The logic lives in safety.py; this module only wires it in, so that
importing the fuzz package elsewhere registers nothing in schemathesis' global registries.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import schemathesis

from conformance.error_envelope import envelope_problem
from conformance.fuzz.safety import (
    OwnResources,
    can_be_confined,
    held_against_target,
    name_with_run_id,
    record_creation,
    restrict_to_own_resources,
    retry_after_seconds,
    webhooks_deliver_nowhere,
)
from conformance.request_budget import SharedWindow

RUN_ID = os.environ.get("RTKC_FUZZ_RUN_ID", "rtkc-fuzz")
OWN = OwnResources(Path(os.environ["RTKC_FUZZ_LEDGER"]) if os.environ.get("RTKC_FUZZ_LEDGER") else None)
THROTTLED_LOG = Path(os.environ["RTKC_FUZZ_THROTTLED"]) if os.environ.get("RTKC_FUZZ_THROTTLED") else None
# The run's request budget, shared with every other process of the run (request_budget.SharedWindow).
WINDOW = (
    SharedWindow(Path(os.environ["RTKC_FUZZ_RATE_WINDOW"]), int(os.environ["RTKC_FUZZ_RATE_LIMIT"]))
    if os.environ.get("RTKC_FUZZ_RATE_WINDOW")
    else None
)


def _header(response: Any, name: str) -> str | None:
    value = response.headers.get(name) or response.headers.get(name.title())
    if isinstance(value, list):
        return value[0] if value else None
    return value


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    return can_be_confined(case)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    restrict_to_own_resources(case, OWN)
    name_with_run_id(case, RUN_ID)
    webhooks_deliver_nowhere(case, RUN_ID)
    if WINDOW is not None:
        WINDOW.take_blocking()


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if response.status_code == 429:
        if THROTTLED_LOG is not None:
            with THROTTLED_LOG.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"method": case.method, "path": case.operation.path}) + "\n")
        # The target asked for a pause; nothing else is sent before it is over.
        time.sleep(retry_after_seconds(_header(response, "retry-after")))
        return
    try:
        body = response.json()
    except Exception:  # not JSON: nothing was created that we could name
        return
    record_creation(case, response.status_code, body, OWN)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    return held_against_target(failure, case, response)


@schemathesis.check
def error_envelope(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answer carries the error envelope with the HTTP status as its code.

    401/403 are left alone: Cloudflare's own example of a 401 body is `{message: ...}`.
    Which failures may FAIL (API-02) and which only warn (API-03): checks.py.
    """
    status = response.status_code
    if status < 400 or status in (401, 403, 429):
        return None
    try:
        body = response.json()
    except Exception:
        body = None
    problem = envelope_problem(status, _header(response, "content-type") or "", body)
    if problem:
        raise AssertionError(f"Error answer {status} without the error envelope: {problem}")
    return None
