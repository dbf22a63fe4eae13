"""The webhook receiver's contract: the deliveries it consumes, as asynchronous messages.

Pact hands each example delivery (body and metadata = the HTTP headers the receiver
reads) to the receiver's real handling code; the contract records the headers it relies
on as metadata.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from pact import match

from contracts.consumers.terms import (
    DELIVERY_ID,
    MEETING_ID,
    SESSION_ID,
    WEBHOOK_ID,
    new_pact,
    timestamp,
    uuid,
)
from contracts.consumers.webhook_receiver import ClassEnded, PupilLeft, WebhookReceiver

CONSUMER = "webhook-receiver"
EXAMPLE_SIGNATURE = "c2lnbmVkIGJ5IHJlYWx0aW1la2l0"  # base64; the real one is RSA-SHA256 over the body

HEADERS = {
    "rtk-signature": match.regex(EXAMPLE_SIGNATURE, regex=r"^[A-Za-z0-9+/]+={0,2}$"),
    "rtk-uuid": uuid(DELIVERY_ID),
    "rtk-webhook-id": uuid(WEBHOOK_ID),
}
MEETING = {"id": uuid(MEETING_ID), "sessionId": uuid(SESSION_ID)}


def signature_is_base64(body: bytes, signature: str) -> bool:
    """Stands in for the RSA check, which needs the provider's key and real bytes."""
    try:
        return bool(base64.b64decode(signature, validate=True))
    except binascii.Error:
        return False


def handled_by_receiver(pact: Any) -> list[Any]:
    receiver = WebhookReceiver(signature_is_base64)
    events: list[Any] = []

    def handle(body: str | bytes | None, metadata: dict[str, object]) -> None:
        raw = body.encode() if isinstance(body, str) else body or b""
        events.append(receiver.handle(raw, {k: str(v) for k, v in metadata.items()}))

    pact.verify(handle, "Async")
    return events


def test_a_class_ended_delivery_closes_the_class(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    (
        pact.upon_receiving("a meeting.ended delivery", "Async")
        .given("a webhook is subscribed", event="meeting.ended")
        .given("meeting M has a live session", participants=2)
        .with_body(
            {
                "event": "meeting.ended",
                "meeting": {**MEETING, "endedAt": timestamp()},
                "reason": match.regex("HOST_ENDED_MEETING", regex=r"^(HOST_ENDED_MEETING|ALL_PARTICIPANTS_LEFT)$"),
            },
            content_type="application/json",
        )
        .with_metadata(HEADERS)
    )
    [event] = handled_by_receiver(pact)
    assert isinstance(event, ClassEnded) and event.meeting_id == MEETING_ID
    assert event.delivery.uuid == DELIVERY_ID
    pact.write_file(pact_dir)


def test_a_participant_left_delivery_notes_when_the_pupil_left(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    (
        pact.upon_receiving("a meeting.participantLeft delivery", "Async")
        .given("a webhook is subscribed", event="meeting.participantLeft")
        .given("meeting M has a live session", participants=2)
        .with_body(
            {
                "event": "meeting.participantLeft",
                "meeting": MEETING,
                "participant": {
                    "peerId": match.str("peer-7f3a"),
                    "customParticipantId": match.str("pupil-1042"),
                    "joinedAt": timestamp("2025-03-04T08:30:00.000Z"),
                    "leftAt": timestamp(),
                },
            },
            content_type="application/json",
        )
        .with_metadata(HEADERS)
    )
    [event] = handled_by_receiver(pact)
    assert isinstance(event, PupilLeft) and event.pupil_id == "pupil-1042"
    assert event.left_at > event.joined_at
    pact.write_file(pact_dir)
