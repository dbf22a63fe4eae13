"""The other legal choices, one small function each, with the source that allows it.

Sources, abbreviated in the comments:
- CF: Cloudflare's official API description (`cloudflare-realtimekit-openapi.yaml`), by
  operationId or schema name;
- DIV n: row n of `official-api-divergences.md`, which quotes CF and the official SDK.

Response rewrites take the route (method, path below the app prefix), the status and the
parsed JSON body, and return a new (status, body) or None to leave the answer alone.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

Answer = tuple[int, Any]

RECORDING = re.compile(r"^/recordings(/[^/]+|/active-recording/[^/]+)?$")
MEETING = re.compile(r"^/meetings(/[^/]+)?$")
WEBHOOK_BY_ID = re.compile(r"^/webhooks/(?P<id>[^/]+)$")


def is_uuid(value: str) -> bool:
    try:
        return str(UUID(value)) == value.lower()
    except ValueError:
        return False


def start_recording_answers_200(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF start_recording documents 200, not 201 (DIV 2).
    if method == "POST" and path == "/recordings" and status == 201:
        return 200, body
    return None


def recordings_without_meeting_id(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF realtimekit_Recording / realtimekit_GetRecording have no meeting_id (DIV 1).
    if not (RECORDING.match(path) and status < 300 and isinstance(body, dict)):
        return None
    data = body.get("data")
    items = data if isinstance(data, list) else [data]
    for item in items:
        if isinstance(item, dict):
            item.pop("meeting_id", None)
    return status, body


def meeting_status_omitted_when_active(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF realtimekit_Meeting requires only id, created_at, updated_at; the SDK has status
    # optional (DIV 11). Kept when INACTIVE, so the state stays observable.
    if not (MEETING.match(path) and status < 300 and isinstance(body, dict)):
        return None
    data = body.get("data")
    items = data if isinstance(data, list) else [data]
    for item in items:
        if isinstance(item, dict) and item.get("status") == "ACTIVE":
            del item["status"]
    return status, body


def presets_listed_short(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF get-presets items are realtimekit_PresetListItem {id, name, created_at, updated_at} (DIV 3).
    if not (method == "GET" and path == "/presets" and status == 200 and isinstance(body, dict)):
        return None
    keep = ("id", "name", "created_at", "updated_at")
    body["data"] = [{k: p[k] for k in keep if k in p} for p in body.get("data") or []]
    return status, body


def kick_all_without_action(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF KickAllParticipants: data.action is an optional property.
    if method == "POST" and path.endswith("/active-session/kick-all") and status == 200 and isinstance(body, dict):
        if isinstance(body.get("data"), dict):
            body["data"].pop("action", None)
        return status, body
    return None


def session_participants_paging_inside_data(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF GetSessionParticipants: only data.participants, every field optional; its examples
    # put paging inside data, not at the top level (DIV 6).
    if not (re.match(r"^/sessions/[^/]+/participants$", path) and status == 200 and isinstance(body, dict)):
        return None
    paging = body.pop("paging", None)
    if paging is not None and isinstance(body.get("data"), dict):
        body["data"]["paging"] = paging
    return status, body


def webhook_id_not_a_guid_is_400(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF getWebhook/editWebhook/replaceWebhook/deleteWebhook document 400 '"id" must be a
    # valid GUID' (DIV 8); the reference answers 404 for such ids.
    found = WEBHOOK_BY_ID.match(path)
    if found and status == 404 and not is_uuid(found["id"]):
        return 400, {"success": False, "error": {"code": 400, "message": '"id" must be a valid GUID'}}
    return None


def auth_errors_as_the_official_example(method: str, path: str, status: int, body: Any) -> Answer | None:
    # CF getAllWebhooks & co.: the one documented 401 example body is {message: "Unauthorized"};
    # no 403 body is documented at all (DIV 7), so it takes the same shape.
    if status == 401:
        return status, {"message": "Unauthorized"}
    if status == 403:
        return status, {"message": "Forbidden"}
    return None


RESPONSE_REWRITES = (
    start_recording_answers_200,
    recordings_without_meeting_id,
    meeting_status_omitted_when_active,
    presets_listed_short,
    kick_all_without_action,
    session_participants_paging_inside_data,
    webhook_id_not_a_guid_is_400,
    auth_errors_as_the_official_example,
)


def rewrite_response(method: str, path: str, status: int, body: Any, enabled: frozenset[str]) -> Answer:
    for rewrite in RESPONSE_REWRITES:
        if rewrite.__name__ not in enabled:
            continue
        changed = rewrite(method, path, status, body)
        if changed is not None:
            status, body = changed
    return status, body


# Choices made in app.py, where the reference's state or the request is needed.
PUT_SERVED = "put_answered_like_patch"
KICK_ALL_IDLE = "kick_all_without_live_session_answers_200"
ADD_TO_INACTIVE = "add_participant_to_inactive_meeting_refused"
CLOCK_204 = "test_clock_answers_204"

ALL_CHOICES = frozenset(
    {r.__name__ for r in RESPONSE_REWRITES} | {PUT_SERVED, KICK_ALL_IDLE, ADD_TO_INACTIVE, CLOCK_204}
)

# -- requests ------------------------------------------------------------------------------

PUT_AS_PATCH = (
    # CF replace_meeting (body realtimekit_CreateMeetingBody) answers like update_meeting (DIV 10).
    (re.compile(r"^/meetings/[^/]+$"), ()),
    # CF replace_participant: custom_participant_id is required in its body but is the
    # participant's identity, not something an edit changes (DIV 10).
    (re.compile(r"^/meetings/[^/]+/participants/[^/]+$"), ("custom_participant_id",)),
    # CF put-presets-preset_id (body realtimekit_CreatePresetBody) (DIV 10).
    (re.compile(r"^/presets/[^/]+$"), ()),
)


def put_as_patch(path: str) -> tuple[str, ...] | None:
    """For a PUT the variant serves: the body fields to drop before answering it as a PATCH."""
    for pattern, dropped in PUT_AS_PATCH:
        if pattern.match(path):
            return dropped
    return None
