"""Every operation in openapi/realtimekit.yaml is served, as documented.

The walk calls each operation once with a plausible request, in an order that creates what
later operations need; the answer must be a documented 2xx whose body matches the
operation's response schema (OpenAPI 3.1 = JSON Schema 2020-12, refs resolved in the
document). A second pass calls every operation without credentials: each must be routed
(a documented 401, never "no such endpoint", never 405).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from conformance.preset_body import preset_body
from conformance.resources import openapi_document

from .conftest import HOST, PARTICIPANT, Api, Room, official_operation, pointer, schema_errors

METHODS = ("get", "put", "post", "patch", "delete")


def operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) for every REST operation of the document."""
    found = {}
    for path, item in openapi_document()["paths"].items():
        for method in METHODS:
            if method in item:
                found[item[method]["operationId"]] = (method, path)
    return found


def response_schema_pointer(method: str, path: str, status: int) -> tuple[str, set[str]]:
    """The pointer to the documented body schema for `status`, and all documented statuses."""
    doc = openapi_document()
    responses = doc["paths"][path][method]["responses"]
    documented = set(responses)
    key = str(status)
    if key not in responses:
        return "", documented
    response = responses[key]
    if "$ref" in response:
        base = response["$ref"].removeprefix("#")
    else:
        base = pointer("paths", path, method, "responses", key)
    target = doc
    for part in base.strip("/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    if "application/json" not in target.get("content", {}):
        return "", documented
    return base + pointer("content", "application/json", "schema"), documented


# (operationId, query, body); bodies may name ids from the context with "{name}".
WALK: list[tuple[str, dict[str, Any] | None, Any]] = [
    ("createMeeting", None, {"title": "walk", "record_on_start": False, "session_keep_alive_time_in_secs": 90}),
    ("listMeetings", {"page_no": 1, "per_page": 10, "status": "ACTIVE"}, None),
    ("getMeeting", None, None),
    ("updateMeeting", None, {"title": "walked"}),
    ("replaceMeeting", None, {"title": "replaced", "session_keep_alive_time_in_secs": 90}),
    ("addParticipant", None, {"custom_participant_id": "walk-added", "preset_name": PARTICIPANT, "name": "Added"}),
    ("listParticipants", {"per_page": 50}, None),
    ("getParticipant", None, None),
    ("editParticipant", None, {"name": "Renamed", "preset_name": HOST}),
    ("replaceParticipant", None, {"custom_participant_id": "walk-replaced", "preset_name": HOST, "name": "Replaced"}),
    ("refreshParticipantToken", None, None),
    ("getActiveSession", None, None),
    ("listSessions", {"associated_id": "{meeting_id}", "status": "LIVE", "sort_order": "ASC"}, None),
    ("getSession", None, None),
    ("listSessionParticipants", {"page_no": 1}, None),
    ("startRecording", None, {"meeting_id": "{meeting_id}", "file_name_prefix": "walk"}),
    ("listRecordings", {"meeting_id": "{meeting_id}"}, None),
    ("getRecording", None, None),
    ("getActiveRecording", None, None),
    ("recordingAction", None, {"action": "pause"}),
    ("createPreset", None, preset_body("walk-preset", {"can_record": True})),
    ("listPresets", None, None),
    ("getPreset", None, None),
    ("updatePreset", None, {"name": "walk-preset-renamed"}),
    ("replacePreset", None, preset_body("walk-preset-replaced")),
    (
        "createWebhook",
        None,
        {"name": "walk", "url": "http://127.0.0.1:9/walk", "events": ["meeting.ended"], "enabled": False},
    ),
    ("listWebhooks", None, None),
    ("getWebhook", None, None),
    ("updateWebhook", None, {"name": "walk-2"}),
    (
        "replaceWebhook",
        None,
        {"name": "walk-3", "url": "http://127.0.0.1:9/walk3", "events": ["meeting.started"], "enabled": False},
    ),
    ("kickParticipants", None, {"participant_ids": ["{kick_id}"], "custom_participant_ids": []}),
    ("kickAllParticipants", None, None),
    ("deleteParticipant", None, None),
    ("deletePreset", None, None),
    ("deleteWebhook", None, None),
]
# the id each create hands on to the operations after it
PRODUCES = {"startRecording": "recording_id", "createPreset": "preset_id", "createWebhook": "webhook_id"}


def fill(value: Any, context: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: context[m.group(1)], value)
    if isinstance(value, dict):
        return {k: fill(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, context) for v in value]
    return value


def test_the_walk_covers_every_operation() -> None:
    walked = [op for op, _, _ in WALK]
    assert len(walked) == len(set(walked))
    assert set(walked) == set(operations())


def test_the_document_resolves() -> None:
    # every 2xx body schema of the document can be compiled and resolved
    for method, path in operations().values():
        for status in openapi_document()["paths"][path][method]["responses"]:
            if status.startswith("2"):
                schema, _ = response_schema_pointer(method, path, int(status))
                assert schema, f"{method} {path} {status} has no JSON body schema"
                schema_errors(schema, {})  # raises if a ref does not resolve


async def test_every_operation_is_served_and_answers_as_documented(api: Api, room: Room) -> None:
    stays = await room.join("stays", HOST)
    await room.join("kicked")
    registered = await room.register("registered")
    context = {
        "account_id": api.creds.account_id,
        "app_id": api.creds.app_id,
        "meeting_id": room.id,
        "participant_id": registered["id"],
        "kick_id": room.registered["kicked"]["id"],
        "session_id": str(stays.session_id),
    }
    table = operations()

    for operation_id, query, body in WALK:
        method, path = table[operation_id]
        url = api.base_url + fill(path, context)
        kwargs: dict[str, Any] = {}
        if query is not None:
            kwargs["params"] = fill(query, context)
        if body is not None:
            kwargs["json"] = fill(body, context)
        response = await api.request(method.upper(), url, **kwargs)

        what = f"{operation_id} ({method.upper()} {path}) -> {response.status_code}: {response.text[:300]}"
        schema, documented = response_schema_pointer(method, path, response.status_code)
        assert str(response.status_code) in documented, f"undocumented status: {what}"
        assert response.status_code < 500, what
        assert response.status_code != 405, what
        assert 200 <= response.status_code < 300, f"a plausible request was refused: {what}"
        assert response.headers["content-type"].startswith("application/json"), what
        payload = response.json()
        errors = schema_errors(schema, payload)
        assert not errors, f"{what}\nresponse does not match its schema: {errors}"
        # and Cloudflare's own description, read by schemathesis (its OpenAPI 3.0 rules:
        # nullable, readOnly/writeOnly), for the status it documents
        official_operation(method.upper(), response.request.url.path).validate_response(response)
        if operation_id in PRODUCES:
            context[PRODUCES[operation_id]] = payload["data"]["id"]

    assert (await api.kick_all(room.id)).status_code == 404  # the walk ended the session


@pytest.mark.parametrize("operation_id", sorted(operations()))
async def test_every_operation_is_routed_without_credentials(api: Api, operation_id: str) -> None:
    method, path = operations()[operation_id]
    context = {"account_id": api.creds.account_id, "app_id": api.creds.app_id}
    url = api.base_url + re.sub(r"\{(\w+)\}", lambda m: context.get(m.group(1), str(uuid.uuid4())), path)

    response = await api.request(method.upper(), url, token=None, json={})

    schema, documented = response_schema_pointer(method, path, response.status_code)
    assert response.status_code == 401, response.text
    assert "401" in documented
    assert not schema_errors(schema, response.json())
    assert response.json()["error"]["message"] != "no such endpoint"
