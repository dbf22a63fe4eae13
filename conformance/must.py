"""Assertions that stop a check, phrased for the person reading a red run at 3 a.m.

Each failure says what the implementation did, what the requirement wanted, and carries
the evidence id of the exchange when there is one. (The requirement's level — MUST or
SHOULD — decides whether a failure gates; the call site does not.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from conformance.client import ApiResponse
from conformance.errors import UnexpectedResponse

T = TypeVar("T")


def status(response: ApiResponse, expected: int | Iterable[int], doing: str) -> ApiResponse:
    return response.expect(expected, doing)


def equal(actual: Any, expected: Any, what: str, response: ApiResponse | None = None) -> None:
    if actual != expected:
        raise UnexpectedResponse(
            f"{what}: expected {expected!r}, got {actual!r}",
            exchange_id=response.exchange_id if response is not None else None,
        )


def that(condition: bool, message: str, response: ApiResponse | None = None) -> None:
    if not condition:
        raise UnexpectedResponse(message, exchange_id=response.exchange_id if response is not None else None)


def success_data(response: ApiResponse, doing: str) -> Any:
    """The `data` of a `{success: true, data}` envelope."""
    body = response.json
    that(
        isinstance(body, dict) and body.get("success") is True and "data" in body,
        f"{doing}: expected the success envelope {{success: true, data}}, got {response.body_excerpt()}",
        response,
    )
    return body["data"]


def error_envelope(response: ApiResponse, expected_status: int, doing: str) -> None:
    """Status as expected and `{success: false, error: {code: <status>, message}}`."""
    response.expect(expected_status, doing)
    problem = response.envelope_problem()
    that(
        not problem,
        f"{doing}: a {expected_status} must carry the error envelope "
        f"{{success: false, error: {{code: {expected_status}, message}}}}: {problem}; got {response.body_excerpt()}",
        response,
    )


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    """Poll `probe` until it returns something truthy, or fail at the deadline.

    For state that is only observable by asking (REST reads after an asynchronous change);
    events are waited for directly instead.
    """
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise UnexpectedResponse(f"{what} did not happen within {timeout:.1f}s")
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.25)
