"""Static checks on openapi/realtimekit.yaml, the REST contract the suite tests against.

The reference implementation looks schemas up by operationId, so the operation table
below is part of the contract: a change here must be a deliberate change there too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).parents[1] / "openapi" / "realtimekit.yaml"
PREFIX = "/accounts/{account_id}/realtime/kit/{app_id}"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ALWAYS = {"401", "403", "404"}

# operationId -> (method, path after PREFIX, success status, extra documented errors)
# "400" is added automatically for operations with a request body or query parameters.
OPERATIONS: dict[str, tuple[str, str, str, set[str]]] = {
    "createMeeting": ("post", "/meetings", "201", set()),
    "listMeetings": ("get", "/meetings", "200", set()),
    "getMeeting": ("get", "/meetings/{meeting_id}", "200", set()),
    "updateMeeting": ("patch", "/meetings/{meeting_id}", "200", set()),
    "addParticipant": ("post", "/meetings/{meeting_id}/participants", "201", {"409"}),
    "listParticipants": ("get", "/meetings/{meeting_id}/participants", "200", set()),
    "getParticipant": ("get", "/meetings/{meeting_id}/participants/{participant_id}", "200", set()),
    "editParticipant": (
        "patch",
        "/meetings/{meeting_id}/participants/{participant_id}",
        "200",
        set(),
    ),
    "deleteParticipant": (
        "delete",
        "/meetings/{meeting_id}/participants/{participant_id}",
        "200",
        set(),
    ),
    "refreshParticipantToken": (
        "post",
        "/meetings/{meeting_id}/participants/{participant_id}/token",
        "200",
        set(),
    ),
    "getActiveSession": ("get", "/meetings/{meeting_id}/active-session", "200", set()),
    "kickParticipants": ("post", "/meetings/{meeting_id}/active-session/kick", "200", set()),
    "kickAllParticipants": (
        "post",
        "/meetings/{meeting_id}/active-session/kick-all",
        "200",
        set(),
    ),
    "listSessions": ("get", "/sessions", "200", set()),
    "getSession": ("get", "/sessions/{session_id}", "200", set()),
    "listSessionParticipants": ("get", "/sessions/{session_id}/participants", "200", set()),
    "startRecording": ("post", "/recordings", "201", {"409"}),
    "listRecordings": ("get", "/recordings", "200", set()),
    "getRecording": ("get", "/recordings/{recording_id}", "200", set()),
    "recordingAction": ("put", "/recordings/{recording_id}", "200", {"409"}),
    "getActiveRecording": ("get", "/recordings/active-recording/{meeting_id}", "200", set()),
    "createPreset": ("post", "/presets", "201", {"409"}),
    "listPresets": ("get", "/presets", "200", set()),
    "getPreset": ("get", "/presets/{preset_id}", "200", set()),
    "updatePreset": ("patch", "/presets/{preset_id}", "200", {"409"}),
    "deletePreset": ("delete", "/presets/{preset_id}", "200", set()),
    "createWebhook": ("post", "/webhooks", "201", set()),
    "listWebhooks": ("get", "/webhooks", "200", set()),
    "getWebhook": ("get", "/webhooks/{webhook_id}", "200", set()),
    "updateWebhook": ("patch", "/webhooks/{webhook_id}", "200", set()),
    "replaceWebhook": ("put", "/webhooks/{webhook_id}", "200", set()),
    "deleteWebhook": ("delete", "/webhooks/{webhook_id}", "200", set()),
}

# operationId -> (request body schema name or None, query parameter names)
REQUESTS: dict[str, tuple[str | None, set[str]]] = {
    "createMeeting": ("MeetingCreate", set()),
    "listMeetings": (None, {"page_no", "per_page", "search", "status", "start_time", "end_time"}),
    "updateMeeting": ("MeetingUpdate", set()),
    "addParticipant": ("ParticipantAdd", set()),
    "listParticipants": (None, {"page_no", "per_page"}),
    "editParticipant": ("ParticipantEdit", set()),
    "kickParticipants": ("KickRequest", set()),
    "listSessions": (
        None,
        {"page_no", "per_page", "associated_id", "status", "sort_order"},
    ),
    "listSessionParticipants": (None, {"page_no", "per_page"}),
    "startRecording": ("RecordingStart", set()),
    "listRecordings": (None, {"page_no", "per_page", "meeting_id", "status"}),
    "recordingAction": ("RecordingAction", set()),
    "createPreset": ("PresetCreate", set()),
    "listPresets": (None, {"page_no", "per_page"}),
    "updatePreset": ("PresetUpdate", set()),
    "createWebhook": ("WebhookCreate", set()),
    "updateWebhook": ("WebhookUpdate", set()),
    "replaceWebhook": ("WebhookCreate", set()),
}

# operationId of the response that carries links -> (status, set of link target operationIds)
LINKS: dict[str, tuple[str, set[str]]] = {
    "createMeeting": (
        "201",
        {
            "getMeeting",
            "updateMeeting",
            "addParticipant",
            "listParticipants",
            "getActiveSession",
            "kickAllParticipants",
            "kickParticipants",
        },
    ),
    "addParticipant": (
        "201",
        {"getParticipant", "editParticipant", "deleteParticipant", "refreshParticipantToken"},
    ),
    "createPreset": ("201", {"getPreset", "updatePreset", "deletePreset"}),
    "createWebhook": ("201", {"getWebhook", "updateWebhook", "replaceWebhook", "deleteWebhook"}),
    "startRecording": ("201", {"getRecording", "recordingAction"}),
    "getActiveSession": ("200", {"getSession", "listSessionParticipants"}),
}

WEBHOOK_EVENTS = {
    "meeting.started": "MeetingStartedEvent",
    "meeting.ended": "MeetingEndedEvent",
    "meeting.participantJoined": "ParticipantJoinedEvent",
    "meeting.participantLeft": "ParticipantLeftEvent",
    "recording.statusUpdate": "RecordingStatusUpdateEvent",
}
WEBHOOK_HEADERS = {"rtk-signature", "rtk-uuid", "rtk-webhook-id"}

NAMED_SCHEMAS = {
    "Meeting",
    "Participant",
    "ParticipantWithToken",
    "DeletedParticipant",
    "Preset",
    "PresetPermissions",
    "PresetPermissionsInput",
    "Session",
    "SessionParticipant",
    "Recording",
    "Webhook",
    "WebhookEvent",
    "KickAllResult",
    "KickResult",
    "Paging",
    "ErrorResponse",
    "MeetingCreate",
    "MeetingUpdate",
    "ParticipantAdd",
    "ParticipantEdit",
    "PresetCreate",
    "PresetUpdate",
    "KickRequest",
    "RecordingStart",
    "RecordingAction",
    "WebhookCreate",
    "WebhookUpdate",
}


# ----------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local $refs until a non-reference node is reached."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are used: {ref}"
        assert ref not in seen, f"reference cycle at {ref}"
        seen.add(ref)
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def iter_operations(spec: dict[str, Any]):
    """Yield (path, method, path item, operation) for every operation under paths."""
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item, item[method]


def parameters_of(spec: dict[str, Any], item: dict[str, Any], op: dict[str, Any]):
    """Resolved parameters of an operation, path-item level ones included."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
        param = resolve(spec, raw)
        merged[(param["name"], param["in"])] = param
    return list(merged.values())


def operations_by_id(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict, dict]]:
    return {op["operationId"]: (path, method, item, op) for path, method, item, op in iter_operations(spec)}


def schema_ref_name(node: dict[str, Any]) -> str:
    ref = node.get("$ref", "")
    assert ref.startswith("#/components/schemas/"), f"expected a named schema, got {node!r}"
    return ref.rsplit("/", 1)[-1]


def expected_errors(op_id: str) -> set[str]:
    body, query = REQUESTS.get(op_id, (None, set()))
    codes = ALWAYS | OPERATIONS[op_id][3]
    if body is not None or query:
        codes |= {"400"}
    return codes


# ------------------------------------------------------------------- tests
def test_document_is_valid_openapi_31(spec):
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    assert spec["info"]["version"] == "1.0.0"
    assert spec["servers"] == [{"url": "https://api.cloudflare.com/client/v4"}]


def test_global_bearer_security(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]
    for _, _, _, op in iter_operations(spec):
        assert "security" not in op, f"{op['operationId']} must inherit the global security"


def test_operation_ids_are_exactly_the_contract(spec):
    ids = [op.get("operationId") for _, _, _, op in iter_operations(spec)]
    assert None not in ids, "every operation needs an operationId"
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert set(ids) == set(OPERATIONS)
    webhook_ids = [
        op["operationId"] for item in spec["webhooks"].values() for method, op in item.items() if method in HTTP_METHODS
    ]
    assert not set(webhook_ids) & set(ids), "webhook operationIds must not clash"


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_operation_path_method_and_success(spec, op_id):
    method, suffix, success, _ = OPERATIONS[op_id]
    path, actual_method, _, op = operations_by_id(spec)[op_id]
    assert (path, actual_method) == (PREFIX + suffix, method)
    successes = {code for code in op["responses"] if code.startswith("2")}
    assert successes == {success}
    content = op["responses"][success]["content"]["application/json"]["schema"]
    envelope = resolve(spec, content)
    assert {"success", "data"} <= set(envelope["required"])
    assert envelope["properties"]["success"] == {"type": "boolean", "const": True}


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_error_statuses_documented(spec, op_id):
    _, _, _, op = operations_by_id(spec)[op_id]
    documented = {code for code in op["responses"] if code[0] in "45"}
    assert documented == expected_errors(op_id)


def test_operations_with_body_or_query_document_400(spec):
    for _, _, item, op in iter_operations(spec):
        has_query = any(p["in"] == "query" for p in parameters_of(spec, item, op))
        if "requestBody" in op or has_query:
            assert "400" in op["responses"], op["operationId"]


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_request_shapes(spec, op_id):
    path, _, item, op = operations_by_id(spec)[op_id]
    body, query = REQUESTS.get(op_id, (None, set()))
    params = parameters_of(spec, item, op)
    assert {p["name"] for p in params if p["in"] == "query"} == query
    path_params = {p["name"] for p in params if p["in"] == "path"}
    assert path_params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
    for p in params:
        if p["in"] == "path":
            assert p["required"] is True
            if p["name"] in {"account_id", "app_id"}:
                assert p["schema"] == {"type": "string", "minLength": 1, "maxLength": 32}
            else:
                assert p["schema"] == {"type": "string", "format": "uuid"}
        if p["name"] == "page_no":
            assert p["schema"] == {"type": "integer", "minimum": 1}
        if p["name"] == "per_page":
            assert p["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    if body is None:
        assert "requestBody" not in op
    else:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema_ref_name(schema) == body


def test_request_bodies_tolerate_unknown_fields(spec):
    schemas = spec["components"]["schemas"]

    def walk(node):
        if isinstance(node, dict):
            assert node.get("additionalProperties", True) is not False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas)


def test_every_error_response_uses_error_envelope(spec):
    for _, _, _, op in iter_operations(spec):
        for code, response in op["responses"].items():
            if code[0] not in "45":
                continue
            assert "$ref" in response, f"{op['operationId']} {code} should reuse a component"
            resolved = resolve(spec, response)
            schema = resolved["content"]["application/json"]["schema"]
            assert schema_ref_name(schema) == "ErrorResponse", (op["operationId"], code)


def test_reusable_error_responses(spec):
    responses = spec["components"]["responses"]
    for name in ("BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict"):
        schema = responses[name]["content"]["application/json"]["schema"]
        assert schema_ref_name(schema) == "ErrorResponse"
    error = spec["components"]["schemas"]["ErrorResponse"]
    assert set(error["required"]) == {"success", "error"}
    assert error["properties"]["success"]["const"] is False
    inner = error["properties"]["error"]
    assert set(inner["required"]) == {"code", "message"}
    assert inner["properties"]["code"]["type"] == "integer"


def test_named_schemas_exist(spec):
    assert set(spec["components"]["schemas"]) >= NAMED_SCHEMAS


def test_list_envelopes_have_paging_except_webhooks(spec):
    by_id = operations_by_id(spec)
    paged = {
        "listMeetings",
        "listParticipants",
        "listSessions",
        "listSessionParticipants",
        "listRecordings",
        "listPresets",
    }
    for op_id in [*paged, "listWebhooks"]:
        op = by_id[op_id][3]
        envelope = resolve(spec, op["responses"]["200"]["content"]["application/json"]["schema"])
        if op_id in paged:
            assert "paging" in envelope["required"], op_id
            assert schema_ref_name(envelope["properties"]["paging"]) == "Paging"
        else:
            assert "paging" not in envelope["properties"], op_id
    paging = spec["components"]["schemas"]["Paging"]
    assert set(paging["required"]) == {"start_offset", "end_offset", "total_count"}


def test_links_point_at_existing_operations(spec):
    by_id = operations_by_id(spec)
    found: dict[str, tuple[str, set[str]]] = {}
    for op_id, (_, _, _, op) in by_id.items():
        for code, response in op["responses"].items():
            for name, link in resolve(spec, response).get("links", {}).items():
                target = link.get("operationId")
                assert target in by_id, f"{op_id} link {name} -> unknown {target}"
                assert link.get("description"), f"{op_id} link {name} needs a description"
                _, _, target_item, target_op = by_id[target]
                target_params = {p["name"] for p in parameters_of(spec, target_item, target_op) if p["in"] == "path"}
                assert set(link["parameters"]) <= target_params, (op_id, name)
                # every path id that is not the account/app comes from the link
                assert target_params - {"account_id", "app_id"} <= set(link["parameters"])
                found.setdefault(op_id, (code, set()))[1].add(target)
    assert found == LINKS


def test_webhook_events(spec):
    hooks = spec["webhooks"]
    assert set(hooks) == set(WEBHOOK_EVENTS)
    for event, schema_name in WEBHOOK_EVENTS.items():
        op = hooks[event]["post"]
        headers = {p["name"]: p for p in (resolve(spec, raw) for raw in op["parameters"]) if p["in"] == "header"}
        assert set(headers) == WEBHOOK_HEADERS, event
        assert all(p["required"] is True for p in headers.values()), event
        body = op["requestBody"]["content"]["application/json"]["schema"]
        assert schema_ref_name(body) == schema_name
        payload = spec["components"]["schemas"][schema_name]
        assert payload["properties"]["event"]["const"] == event
        assert {"event", "meeting"} <= set(payload["required"])
        assert "2XX" in op["responses"]
        assert op.get("security") == []


def test_webhook_event_enum(spec):
    enum = spec["components"]["schemas"]["WebhookEvent"]["enum"]
    assert set(WEBHOOK_EVENTS) <= set(enum)
    assert len(enum) == 9


def test_schemathesis_loads_and_enumerates_operations():
    schema = schemathesis.openapi.from_path(str(SPEC_PATH))
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append((operation.method.lower(), operation.path))
    expected = {(method, PREFIX + suffix) for method, suffix, _, _ in OPERATIONS.values()}
    assert len(labels) == len(OPERATIONS)
    assert set(labels) == expected
    # the link graph must be usable for stateful testing
    assert schema.as_state_machine() is not None
