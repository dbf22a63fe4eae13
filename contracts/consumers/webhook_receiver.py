"""A webhook receiver: keeps a school's attendance record from RealtimeKit deliveries.

It consumes two events and relies only on what its contract records
(`contracts/pacts/webhook-receiver-realtimekit.json`): `meeting.ended` closes a class in
the register, `meeting.participantLeft` notes when a pupil left. From the headers it uses
`rtk-signature` (refuses anything unsigned or badly signed), `rtk-uuid` (a repeated delivery
is recognised and ignored) and `rtk-webhook-id` (which registration the delivery is for).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ClassEnded", "Delivery", "PupilLeft", "Refused", "WebhookReceiver"]

SignatureCheck = Callable[[bytes, str], bool]


class Refused(Exception):
    """The delivery is answered 4xx: RealtimeKit must not retry it."""


@dataclass(frozen=True)
class Delivery:
    uuid: str
    webhook_id: str


@dataclass(frozen=True)
class ClassEnded:
    delivery: Delivery
    meeting_id: str
    session_id: str
    ended_at: datetime
    reason: str


@dataclass(frozen=True)
class PupilLeft:
    delivery: Delivery
    meeting_id: str
    session_id: str
    peer_id: str
    pupil_id: str  # our own id, given to RealtimeKit as custom_participant_id
    joined_at: datetime
    left_at: datetime


Event = ClassEnded | PupilLeft


class WebhookReceiver:
    def __init__(self, signature_is_valid: SignatureCheck) -> None:
        self._signature_is_valid = signature_is_valid
        self._seen: set[str] = set()

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Event | None:
        """The event a delivery reports; None for a repeat or an event we do not use."""
        lower = {name.lower(): value for name, value in headers.items()}
        signature = lower.get("rtk-signature")
        if not signature or not self._signature_is_valid(body, signature):
            raise Refused("missing or invalid rtk-signature")
        try:
            delivery = Delivery(lower["rtk-uuid"], lower["rtk-webhook-id"])
        except KeyError as missing:
            raise Refused(f"no {missing.args[0]} header") from None
        if delivery.uuid in self._seen:
            return None
        payload = json.loads(body)
        event = _read(payload, delivery)
        self._seen.add(delivery.uuid)
        return event


def _read(payload: dict, delivery: Delivery) -> Event | None:
    name = payload.get("event")
    meeting = payload.get("meeting") or {}
    if name == "meeting.ended":
        return ClassEnded(
            delivery=delivery,
            meeting_id=meeting["id"],
            session_id=meeting["sessionId"],
            ended_at=datetime.fromisoformat(meeting["endedAt"]),
            reason=payload["reason"],
        )
    if name == "meeting.participantLeft":
        participant = payload["participant"]
        return PupilLeft(
            delivery=delivery,
            meeting_id=meeting["id"],
            session_id=meeting["sessionId"],
            peer_id=participant["peerId"],
            pupil_id=participant["customParticipantId"],
            joined_at=datetime.fromisoformat(participant["joinedAt"]),
            left_at=datetime.fromisoformat(participant["leftAt"]),
        )
    return None
