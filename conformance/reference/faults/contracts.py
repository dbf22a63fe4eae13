"""Faults that break a consumer contract: a renamed field, a changed status code, a missing
header. The contracts phase must catch each one, naming the interaction and the difference.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.reference.faults.base import dumps, fault, filter_emits, patch, rewrite_json_responses

if TYPE_CHECKING:
    from conformance.reference.app import Reference

_ONE_MEETING = re.compile(r"/meetings/[^/]+$")


def patch_only(ref: Reference, rewrite: Callable[[str, int, Any], tuple[int, bytes, str] | None]) -> None:
    """Rewrite the answers of PATCH requests only (GETs of the same path stay right)."""
    unwrapped = ref.app
    rewrite_json_responses(ref, rewrite)
    rewriting = ref.app

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        chosen = rewriting if scope["type"] == "http" and scope.get("method") == "PATCH" else unwrapped
        await chosen(scope, receive, send)

    ref.app = app  # type: ignore[assignment]


def _renamed(data: Any, old: str, new: str) -> bool:
    if isinstance(data, dict) and old in data:
        data[new] = data.pop(old)
        return True
    return False


@fault("kick_all_count_renamed", "END-01")
def _kick_all_count_renamed(ref: Reference) -> None:
    """REST kick-all answers `kicked_count` instead of `kicked_participants_count`."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        data = body.get("data") if isinstance(body, dict) else None
        if path.endswith("/active-session/kick-all") and _renamed(data, "kicked_participants_count", "kicked_count"):
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("meeting_patch_answers_without_data", "MEET-02")
def _meeting_patch_without_data(ref: Reference) -> None:
    """Changing a meeting's status answers `{"success": true}` with no `data` (the meeting)."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if _ONE_MEETING.search(path) and status == 200 and isinstance(body, dict) and "data" in body:
            return status, dumps({"success": True}), "application/json"
        return None

    patch_only(ref, rewrite)


@fault("active_session_id_renamed", "API-01")
def _active_session_id_renamed(ref: Reference) -> None:
    """The live session is read back with its id under `session_id` instead of `id`."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        data = body.get("data") if isinstance(body, dict) else None
        if path.endswith("/active-session") and _renamed(data, "id", "session_id"):
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("refusals_answered_200", "END-03", "END-06", "API-03", "PERM-06")
def _refusals_answered_200(ref: Reference) -> None:
    """Every 4xx refusal is sent with HTTP status 200, its error envelope kept (the body says
    `success: false`, the status says it worked): consumers that go by the status are misled."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if 400 <= status < 500 and status != 429:
            return 200, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("webhook_created_answers_200", "WH-01")
def _webhook_created_answers_200(ref: Reference) -> None:
    """Registering a webhook answers 200 instead of 201 Created."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if path.endswith("/webhooks") and status == 201:
            return 200, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("unauthenticated_answers_403", "PERM-06")
def _unauthenticated_answers_403(ref: Reference) -> None:
    """A missing or unknown API token is answered 403 instead of 401."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if status == 401:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                error["code"] = 403
            return 403, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("meeting_ended_without_uuid_header", "END-08")
def _meeting_ended_without_uuid(ref: Reference) -> None:
    """meeting.ended deliveries come without the rtk-uuid header receivers deduplicate by."""

    def make(headers: Callable[..., dict[str, str]]) -> Callable[..., dict[str, str]]:
        def without_uuid(webhook: dict[str, Any], row: dict[str, Any], body: bytes) -> dict[str, str]:
            sent = headers(webhook, row, body)
            if row["event"] == "meeting.ended":
                sent.pop("rtk-uuid", None)
            return sent

        return without_uuid

    patch(ref.dispatcher, "delivery_headers", make)


@fault("participant_left_time_renamed", "LEAVE-02")
def _participant_left_time_renamed(ref: Reference) -> None:
    """meeting.participantLeft carries the participant's `left_at` instead of `leftAt`."""

    def change(event: str, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        if event == "meeting.participantLeft":
            participant = dict(payload.get("participant") or {})
            _renamed(participant, "leftAt", "left_at")
            payload = {**payload, "participant": participant}
        return [(event, payload)]

    filter_emits(ref, change)
