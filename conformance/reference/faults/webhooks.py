"""Faults in webhook delivery: subscriptions, signatures, retries, order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.reference.faults.base import (
    fault,
    patch,
)

if TYPE_CHECKING:
    from conformance.reference.app import Reference


# -- webhooks --------------------------------------------------------------------------------


@fault("webhook_filter_ignored", "WH-01")
def _filter_ignored(ref: Reference) -> None:
    """Every enabled webhook receives every event, subscribed or not."""
    d = ref.dispatcher
    patch(
        d,
        "subscribers",
        lambda subs: lambda scope, event: d.storage.list("webhooks", scope=scope, where=lambda w: w["enabled"]),
    )


@fault("disabled_webhook_delivers", "WH-01")
def _disabled_delivers(ref: Reference) -> None:
    """A disabled webhook still receives its events."""
    d = ref.dispatcher
    patch(
        d,
        "subscribers",
        lambda subs: lambda scope, event: d.storage.list("webhooks", scope=scope, where=lambda w: event in w["events"]),
    )
    patch(d, "drop_pending", lambda drop: lambda webhook_id: None)
    original_attempt = d._attempt

    async def attempt(webhook_id: str, row: dict[str, Any]) -> None:
        webhook = d.storage.get("webhooks", webhook_id)
        if webhook and not webhook["enabled"]:
            webhook = {**webhook, "enabled": True}
            d.storage.put("webhooks", webhook, scope=webhook["scope"])
            try:
                await original_attempt(webhook_id, row)
            finally:
                webhook["enabled"] = False
                d.storage.put("webhooks", webhook, scope=webhook["scope"])
            return
        await original_attempt(webhook_id, row)

    d._attempt = attempt  # type: ignore[method-assign]


@fault("bad_signature", "WH-02")
def _bad_signature(ref: Reference) -> None:
    """rtk-signature is computed over different bytes than the body sent."""
    signer = ref.dispatcher.signer
    patch(signer, "sign", lambda sign: lambda body: sign(body + b" "))


@fault("wrong_webhook_id_header", "WH-02")
def _wrong_webhook_id(ref: Reference) -> None:
    """rtk-webhook-id carries a random id instead of the webhook's."""
    d = ref.dispatcher
    patch(
        d,
        "delivery_headers",
        lambda headers: lambda webhook, row, body: {**headers(webhook, row, body), "rtk-webhook-id": str(uuid.uuid4())},
    )


@fault("retry_on_4xx", "WH-03")
def _retry_4xx(ref: Reference) -> None:
    """A receiver answering 4xx is retried like a 5xx."""
    d = ref.dispatcher
    patch(
        d,
        "settle",
        lambda settle: lambda row, status: settle(row, 503 if status is not None and 400 <= status < 500 else status),
    )


@fault("no_retry_on_5xx", "WH-03")
def _no_retry_5xx(ref: Reference) -> None:
    """A receiver answering 5xx (or not answering) is given up at once."""
    d = ref.dispatcher
    patch(
        d, "settle", lambda settle: lambda row, status: settle(row, 400 if status is None or status >= 500 else status)
    )


@fault("delivers_twice", "WH-03")
def _delivers_twice(ref: Reference) -> None:
    """A delivery the receiver accepted (2xx) is sent once more at once, with the same rtk-uuid."""
    d = ref.dispatcher

    def make(settle: Callable[[dict[str, Any], int | None], None]) -> Callable[[dict[str, Any], int | None], None]:
        def settle_then_repeat(row: dict[str, Any], status: int | None) -> None:
            settle(row, status)
            if row["state"] == "delivered" and row["attempts"] == 1:
                row.update(state="pending", next_attempt_at=d.clock.now())

        return settle_then_repeat

    patch(d, "settle", make)


@fault("new_uuid_per_retry", "WH-04")
def _new_uuid(ref: Reference) -> None:
    """Each retry of one event carries a fresh rtk-uuid."""
    d = ref.dispatcher

    def make(settle: Callable[..., None]) -> Callable[..., None]:
        def settle_and_rename(row: dict[str, Any], status: int | None) -> None:
            settle(row, status)
            if row["state"] == "pending":
                row["uuid"] = str(uuid.uuid4())

        return settle_and_rename

    patch(d, "settle", make)


@fault("ended_before_left", "WH-05")
def _ended_before_left(ref: Reference) -> None:
    """meeting.ended is delivered before the participantLeft events of the same end."""
    s = ref.sessions
    d = ref.dispatcher

    def make(end: Callable[..., int]) -> Callable[..., int]:
        def end_session(session_id: str, reason: str) -> int:
            held: list[tuple[str, str, dict[str, Any]]] = []
            emit = d.emit
            d.emit = lambda scope, event, payload: held.append((scope, event, payload))  # type: ignore[method-assign]
            try:
                removed = end(session_id, reason)
            finally:
                d.emit = emit  # type: ignore[method-assign]
            for item in sorted(held, key=lambda h: h[1] != "meeting.ended"):
                emit(*item)
            return removed

        return end_session

    patch(s, "end_session", make)


@fault("webhooks_delivered_late", "END-08", "WH-02")
def _late(ref: Reference) -> None:
    """Every webhook delivery waits 30 s before it is sent (far past any receiver's patience)."""
    d = ref.dispatcher
    attempt = d._attempt

    async def late_attempt(webhook_id: str, row: dict[str, Any]) -> None:
        await asyncio.sleep(30)  # the fault: a stuck delivery queue
        await attempt(webhook_id, row)

    d._attempt = late_attempt  # type: ignore[method-assign]
