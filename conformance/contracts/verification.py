"""Verify one interaction of one pact against the target, and say who is to blame.

The pact FFI runs in a daemon thread (it blocks, and pytest-timeout's signal cannot stop
it), bounded by its own request timeout; the suite's event loop stays free to answer the
verifier's state and message callbacks. The verdict reads the verifier's JSON results:

    our state set-up failed          -> the suite could not run (error, never a pass)
    no interaction was checked       -> the suite could not run (error, never a pass)
    the message could not be caused  -> as the cause says (a target timeout is a failure)
    a mismatch                       -> the implementation failed, in the verifier's words
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pact import Verifier

from conformance.contracts.callbacks import Callbacks
from conformance.contracts.pacts import Interaction
from conformance.contracts.states import INVALID_TOKEN, NO_PERMISSION, World
from conformance.errors import (
    CheckNotRunnable,
    ImplementationFailed,
    SuiteCouldNotRun,
    TargetUnreachable,
    UnexpectedResponse,
)
from conformance.evidence_log import current_check
from conformance.harness import Harness

T = TypeVar("T")

# The verifier's words for "could not even talk to the provider".
_UNREACHABLE = re.compile(r"error sending request|connection refused|dns error|tcp connect error", re.IGNORECASE)


@dataclass
class Verification:
    """What one verifier run said, already redacted."""

    results: dict[str, Any]
    output: str
    checked: list[dict[str, Any]] = field(default_factory=list)


def step_seconds(harness: Harness) -> float:
    """The deadline of one callback (a state set-up, a message) and of one provider request.

    A message waits for a delivery (event timeout) after causing it (one request), so a
    step always leaves room for both; otherwise a quarter of the check's deadline.
    """
    limits = harness.config.limits
    return max(5.0, limits.check_timeout_seconds / 4, limits.event_timeout_seconds + limits.request_timeout_seconds)


def authorization(interaction: Interaction, harness: Harness) -> str | None:
    """The Authorization header the verifier sends instead of the pact's example token.

    None keeps the pact's own (an invalid example token) or sends none (messages).
    """
    if interaction.is_message or interaction.has_state(INVALID_TOKEN):
        return None
    tokens = harness.config.tokens
    if interaction.has_state(NO_PERMISSION):
        if not tokens.no_permission:
            raise CheckNotRunnable(
                f"{interaction.key}: needs a token without the Realtime permission "
                "(RTKC_NO_PERMISSION_TOKEN or RTKC_NO_PERMISSION_TOKEN_FILE)"
            )
        return f"Bearer {tokens.no_permission}"
    return f"Bearer {tokens.admin}"


def build(interaction: Interaction, harness: Harness, callbacks: Callbacks) -> Verifier:
    timeout_ms = int(1000 * (step_seconds(harness) + 2))  # above the callbacks' own deadline
    if interaction.is_message:
        verifier = Verifier(interaction.provider, host=callbacks.host).add_transport(
            protocol="message", port=callbacks.port, path="/message", scheme="http"
        )
    else:
        app_url = harness.api.base_url + harness.api.app_path()
        verifier = Verifier(interaction.provider, host=urlsplit(app_url).hostname).add_transport(url=app_url)
        header = authorization(interaction, harness)
        if header is not None:
            verifier.add_custom_header("Authorization", header)
    return (
        verifier.state_handler(callbacks.state_url, teardown=True, body=True)
        .set_request_timeout(timeout_ms)
        .set_coloured_output(enabled=False)
        .set_error_on_empty_pact(enabled=True)
        .add_source(interaction.source)
        .filter(description=f"^{_literal(interaction.description)}$")
    )


async def verify(
    interaction: Interaction, harness: Harness, callbacks: Callbacks, check: str
) -> tuple[World, Verification]:
    """Run the verifier for this one interaction, states torn down whatever happens."""
    world = World(harness, interaction, check)
    verifier = build(interaction, harness, callbacks)
    callbacks.world = world
    filed_under = current_check.set(check)
    try:
        if not interaction.is_message:
            # The verifier's own request to the target counts against the run's budget too
            # (its state setup goes through the harness' client, which takes its own slots).
            await harness.limiter.acquire()
        # Below the check's own deadline, so that this says what overran.
        await in_daemon_thread(lambda: _run(verifier), 0.9 * harness.config.limits.check_timeout_seconds)
    finally:
        callbacks.world = None
        await world.tear_down()
        current_check.reset(filed_under)
    try:
        results = verifier.results
    except ValueError as exc:
        raise SuiteCouldNotRun(f"{interaction.key}: the pact verifier gave no readable results ({exc})") from None
    # str(): the FFI hands back its own str subclass, which cannot be copied.
    verification = Verification(results, harness.redactor.redact_text(str(verifier.output(strip_ansi=True))))
    verification.checked = [
        r for r in results.get("interactionResults") or [] if r.get("description") == interaction.description
    ]
    return world, verification


def _run(verifier: Verifier) -> None:
    with contextlib.suppress(RuntimeError):  # "Failed to execute verifier": the results say why
        verifier.verify()


def judge(interaction: Interaction, world: World, verification: Verification, redact: Callable[[str], str]) -> None:
    """Raise what this verification means, per the table in the module doc; None is a pass."""
    key = interaction.key
    if world.setup_failure is not None:
        state, exc = world.setup_failure
        if isinstance(exc, CheckNotRunnable):
            raise exc
        raise SuiteCouldNotRun(f"{key}: provider state {state!r} could not be set up on the target: {redact(str(exc))}")
    if not verification.checked:
        others = len(verification.results.get("interactionResults") or [])
        raise SuiteCouldNotRun(
            f"{key}: the pact verifier did not check this interaction ({others} other(s) of "
            f"{interaction.source.name} checked); nothing about the target was verified"
        )
    if world.message_failure is not None:
        exc = world.message_failure
        if isinstance(exc, ImplementationFailed):
            raise type(exc)(f"{key}: {redact(str(exc))}")
        if isinstance(exc, SuiteCouldNotRun):
            raise exc
        raise SuiteCouldNotRun(f"{key}: the message could not be produced: {redact(str(exc))}")
    result = verification.checked[0]
    if result.get("result") == "OK" and verification.results.get("result") is True:
        return
    differences = mismatches(result)
    text = "; ".join(differences) or "the verifier reported a failure without details"
    if any(_UNREACHABLE.search(d) for d in differences):
        raise TargetUnreachable(f"{key}: the verifier could not reach the target: {redact(text)}")
    raise UnexpectedResponse(f"{key}: the provider broke the contract: {redact(text)}")


def mismatches(result: dict[str, Any]) -> list[str]:
    """The verifier's own descriptions of what differed, one per mismatch."""
    mismatch = result.get("mismatch") or {}
    found = []
    for item in mismatch.get("mismatches") or []:
        text = str(item.get("mismatch") or item.get("type") or "")
        path = item.get("path")
        found.append(f"{path} -> {text}" if path and not text.startswith(str(path)) else text)
    if mismatch.get("message"):
        found.append(str(mismatch["message"]))
    return found


def failures_section(output: str) -> str:
    """The part of the verifier's report that shows the differences (with its body diff)."""
    start = output.find("Failures:")
    return output[start:].strip() if start >= 0 else output.strip()


def write_report(directory: Path, interaction: Interaction, verification: Verification) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", interaction.key).strip("-").lower()
    path = directory / f"{slug}.txt"
    path.write_text(verification.output, encoding="utf-8")
    return path


async def in_daemon_thread(fn: Callable[[], T], timeout: float) -> T:
    """`fn()` in a daemon thread, awaited with a deadline (a stuck FFI call cannot hold the
    process open at exit, and the loop keeps serving callbacks meanwhile)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            value, error = fn(), None
        except BaseException as exc:  # handed to the awaiting coroutine
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=run, name="pact-verifier", daemon=True).start()
    try:
        async with asyncio.timeout(timeout):
            return await future
    except TimeoutError:
        raise SuiteCouldNotRun(f"the pact verifier did not finish within {timeout:g}s") from None


def _literal(text: str) -> str:
    """Escape regex metacharacters the way the verifier's (Rust) regex syntax accepts."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)
