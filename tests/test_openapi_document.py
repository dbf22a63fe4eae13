"""Static checks on openapi/realtimekit.yaml, the REST contract the suite tests against.

Its schemas are Cloudflare's (tests/test_official_description.py proves it is nowhere
stricter); this file pins what the suite and the reference build on: a valid OpenAPI 3.1
document, the operation table (the reference looks schemas up by operationId and serves
exactly these operations), the error statuses and envelope every operation documents,
the links stateful fuzzing follows, and the `webhooks` section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from conformance import openapi_schema
from conformance.resources import read_yaml

SPEC_PATH = Path(__file__).parents[1] / "openapi" / "realtimekit.yaml"
PREFIX = "/accounts/{account_id}/realtime/kit/{app_id}"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Every operation: credentials refused (401, 403), a resource or account/app not visible
# (404), the documented rate limit (429). See openapi/additions.toml for their sources.
ALWAYS = {"401", "403", "404", "429"}

# operationId -> (method, path after PREFIX, success status). Creates answer 201, except
# start_recording, which Cloudflare documents with 200.
OPERATIONS: dict[str, tuple[str, str, str]] = {
    "createMeeting": ("post", "/meetings", "201"),
    "listMeetings": ("get", "/meetings", "200"),
    "getMeeting": ("get", "/meetings/{meeting_id}", "200"),
    "updateMeeting": ("patch", "/meetings/{meeting_id}", "200"),
    "replaceMeeting": ("put", "/meetings/{meeting_id}", "200"),
    "addParticipant": ("post", "/meetings/{meeting_id}/participants", "201"),
    "listParticipants": ("get", "/meetings/{meeting_id}/participants", "200"),
    "getParticipant": ("get", "/meetings/{meeting_id}/participants/{participant_id}", "200"),
    "editParticipant": ("patch", "/meetings/{meeting_id}/participants/{participant_id}", "200"),
    "replaceParticipant": ("put", "/meetings/{meeting_id}/participants/{participant_id}", "200"),
    "deleteParticipant": ("delete", "/meetings/{meeting_id}/participants/{participant_id}", "200"),
    "refreshParticipantToken": ("post", "/meetings/{meeting_id}/participants/{participant_id}/token", "200"),
    "getActiveSession": ("get", "/meetings/{meeting_id}/active-session", "200"),
    "kickParticipants": ("post", "/meetings/{meeting_id}/active-session/kick", "200"),
    "kickAllParticipants": ("post", "/meetings/{meeting_id}/active-session/kick-all", "200"),
    "listSessions": ("get", "/sessions", "200"),
    "getSession": ("get", "/sessions/{session_id}", "200"),
    "listSessionParticipants": ("get", "/sessions/{session_id}/participants", "200"),
    "startRecording": ("post", "/recordings", "200"),
    "listRecordings": ("get", "/recordings", "200"),
    "getRecording": ("get", "/recordings/{recording_id}", "200"),
    "recordingAction": ("put", "/recordings/{recording_id}", "200"),
    "getActiveRecording": ("get", "/recordings/active-recording/{meeting_id}", "200"),
    "createPreset": ("post", "/presets", "201"),
    "listPresets": ("get", "/presets", "200"),
    "getPreset": ("get", "/presets/{preset_id}", "200"),
    "updatePreset": ("patch", "/presets/{preset_id}", "200"),
    "replacePreset": ("put", "/presets/{preset_id}", "200"),
    "deletePreset": ("delete", "/presets/{preset_id}", "200"),
    "createWebhook": ("post", "/webhooks", "201"),
    "listWebhooks": ("get", "/webhooks", "200"),
    "getWebhook": ("get", "/webhooks/{webhook_id}", "200"),
    "updateWebhook": ("patch", "/webhooks/{webhook_id}", "200"),
    "replaceWebhook": ("put", "/webhooks/{webhook_id}", "200"),
    "deleteWebhook": ("delete", "/webhooks/{webhook_id}", "200"),
}

# Operations that take a request body.
WITH_BODY = {
    "createMeeting",
    "updateMeeting",
    "replaceMeeting",
    "addParticipant",
    "editParticipant",
    "replaceParticipant",
    "kickParticipants",
    "startRecording",
    "recordingAction",
    "createPreset",
    "updatePreset",
    "replacePreset",
    "createWebhook",
    "updateWebhook",
    "replaceWebhook",
}
# 409: a well-formed request that clashes with state (a taken custom id or preset name, a
# preset_name that names no preset, a second recording, a recording action its state does not allow).
CONFLICTS = {
    "addParticipant",
    "editParticipant",
    "replaceParticipant",
    "startRecording",
    "recordingAction",
    "createPreset",
    "updatePreset",
    "replacePreset",
}
# 400 documented by Cloudflare itself (the webhook operations), body or not.
OFFICIAL_400 = {"getWebhook", "deleteWebhook"}
PAGED_LISTS = {"listMeetings", "listParticipants", "listSessions", "listRecordings", "listPresets"}

# operationId whose success response carries links -> (status, link target operationIds).
# No link from a new meeting to its active session or kicks: with nobody joined they answer
# 404 (Cloudflare documents it), which stateful testing reads as "created resource not found".
LINKS: dict[str, tuple[str, set[str]]] = {
    "createMeeting": ("201", {"getMeeting", "updateMeeting", "addParticipant", "listParticipants"}),
    "addParticipant": ("201", {"getParticipant", "editParticipant", "deleteParticipant", "refreshParticipantToken"}),
    "createPreset": ("201", {"getPreset", "updatePreset", "deletePreset"}),
    "createWebhook": ("201", {"getWebhook", "updateWebhook", "replaceWebhook", "deleteWebhook"}),
    "startRecording": ("200", {"getRecording", "recordingAction"}),
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


# ----------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return read_yaml(SPEC_PATH)  # type: ignore[return-value]


def resolve(spec: dict[str, Any], node: Any) -> Any:
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


def parameters_of(spec: dict[str, Any], item: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
    """Resolved parameters of an operation, path-item level ones included."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
        param = resolve(spec, raw)
        merged[(param["name"], param["in"])] = param
    return list(merged.values())


def operations_by_id(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict, dict]]:
    return {op["operationId"]: (path, method, item, op) for path, method, item, op in iter_operations(spec)}


def properties(spec: dict[str, Any], node: Any) -> dict[str, Any]:
    """The properties an object schema names, through allOf."""
    node = resolve(spec, node)
    found = dict(node.get("properties", {}))
    for part in node.get("allOf", []):
        found.update(properties(spec, part))
    return found


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return openapi_schema.validator(schema, spec)


def can_be_invalid(schema: dict[str, Any]) -> bool:
    """Whether some query string fails this parameter schema (a bare string never does)."""
    return set(schema) - {"type", "description", "default", "example"} != set() or schema.get("type") != "string"


def expected_errors(spec: dict[str, Any], op_id: str) -> set[str]:
    _, _, item, op = operations_by_id(spec)[op_id]
    codes = set(ALWAYS)
    query = [p for p in parameters_of(spec, item, op) if p["in"] == "query"]
    if op_id in WITH_BODY or op_id in OFFICIAL_400 or any(can_be_invalid(p["schema"]) for p in query):
        codes.add("400")
    if op_id in CONFLICTS:
        codes.add("409")
    return codes


def error_body(status: int) -> dict[str, Any]:
    return {"success": False, "error": {"code": status, "message": "refused"}}


def served_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path) of every REST route the bundled reference serves."""
    from conformance.reference.routes import PREFIX as REFERENCE_PREFIX
    from conformance.reference.routes import RestApi

    api = RestApi.__new__(RestApi)  # only its route table is read, nothing is served
    tables: list[dict[str, Any]] = []

    def keep(methods: dict[str, Any]) -> Any:
        tables.append(methods)
        return lambda request: None

    api._dispatcher = keep  # type: ignore[method-assign]
    served = {}
    rest = [route for route in api.routes() if route.path.startswith(REFERENCE_PREFIX)]
    assert len(rest) == len(tables)
    for route, methods in zip(rest, tables, strict=True):
        for method, handler in methods.items():
            served[handler.operation_id] = (method.lower(), PREFIX + route.path.removeprefix(REFERENCE_PREFIX))
    return served


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


def test_every_operation_the_reference_serves_is_described(spec):
    # The fuzzer judges the reference by this document: a route served but not described
    # is never fuzzed, an operation described but not served gets 404/405 from it.
    described = {op_id: (method, path) for op_id, (path, method, _, _) in operations_by_id(spec).items()}
    assert served_operations() == described


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_operation_path_method_and_success(spec, op_id):
    method, suffix, success = OPERATIONS[op_id]
    path, actual_method, _, op = operations_by_id(spec)[op_id]
    assert (path, actual_method) == (PREFIX + suffix, method)
    successes = {code for code in op["responses"] if code.startswith("2")}
    assert successes == {success}
    envelope = properties(spec, op["responses"][success]["content"]["application/json"]["schema"])
    assert resolve(spec, envelope["success"])["type"] == "boolean"
    assert "data" in envelope


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_error_statuses_documented(spec, op_id):
    _, _, _, op = operations_by_id(spec)[op_id]
    assert {code for code in op["responses"] if code[0] == "4"} == expected_errors(spec, op_id)
    # 5xx only where Cloudflare documents one (its 500 "Failure response").
    assert {code for code in op["responses"] if code[0] == "5"} <= {"500"}


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_every_error_response_accepts_the_error_envelope(spec, op_id):
    # Whatever schema an error response has (the suite's or Cloudflare's), the envelope
    # {success: false, error: {code, message}} RealtimeKit's docs show must pass it.
    _, _, _, op = operations_by_id(spec)[op_id]
    for code, raw in op["responses"].items():
        if code[0] not in "45":
            continue
        response = resolve(spec, raw)
        content = response.get("content")
        if content is None:
            # Only Cloudflare's own bodiless "Invalid credentials" on the webhook operations.
            assert code == "401" and "Webhook" in op_id, (op_id, code)
            continue
        schema = content["application/json"]["schema"]
        errors = [e.message for e in validator(spec, schema).iter_errors(error_body(int(code)))]
        assert errors == [], (op_id, code)
        assert not validator(spec, schema).is_valid({"success": True, "data": {}}) or code in {"401", "403"}, (
            op_id,
            code,
            "an error schema must not accept a success body",
        )


def test_reusable_error_responses(spec):
    responses = spec["components"]["responses"]
    for name in ("BadRequest", "NotFound", "Conflict", "TooManyRequests"):
        assert responses[name]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
    for name in ("Unauthorized", "Forbidden"):
        schema = responses[name]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/AuthErrorResponse"}
        assert validator(spec, schema).is_valid({"message": "Unauthorized"})  # Cloudflare's example
    assert responses["TooManyRequests"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    error = spec["components"]["schemas"]["ErrorResponse"]
    assert set(error["required"]) == {"success", "error"}
    assert error["properties"]["success"]["const"] is False
    inner = error["properties"]["error"]
    assert set(inner["required"]) == {"code", "message"}
    assert inner["properties"]["code"]["type"] == "number"  # Cloudflare's GenericErrorResponse
    check = validator(spec, {"$ref": "#/components/schemas/ErrorResponse"})
    assert check.is_valid(error_body(404))
    assert not check.is_valid({"success": False, "error": {"code": "404", "message": "x"}})
    assert not check.is_valid({"success": False, "error": {"message": "x"}})


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_request_shapes(spec, op_id):
    path, _, item, op = operations_by_id(spec)[op_id]
    params = parameters_of(spec, item, op)
    path_params = {p["name"] for p in params if p["in"] == "path"}
    assert path_params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
    for p in params:
        assert p["in"] in {"path", "query"}, (op_id, p["name"])
        if p["in"] == "path":
            assert p["required"] is True
            assert p["schema"]["type"] == "string"
    assert ("requestBody" in op) == (op_id in WITH_BODY)
    if op_id in WITH_BODY:
        body = resolve(spec, op["requestBody"])
        assert set(body["content"]) == {"application/json"}, op_id


def test_request_bodies_tolerate_unknown_fields(spec):
    # Cloudflare's request schemas never forbid extra fields; neither may the suite's.
    def walk(node):
        if isinstance(node, dict):
            assert node.get("additionalProperties", True) is not False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec["components"]["schemas"])
    for _, _, _, op in iter_operations(spec):
        walk(op.get("requestBody", {}))


def test_paged_lists_have_paging(spec):
    by_id = operations_by_id(spec)
    for op_id in PAGED_LISTS:
        op = by_id[op_id][3]
        envelope = properties(spec, op["responses"]["200"]["content"]["application/json"]["schema"])
        assert "paging" in envelope, op_id
    webhooks = properties(spec, by_id["listWebhooks"][3]["responses"]["200"]["content"]["application/json"]["schema"])
    assert "paging" not in webhooks


def test_links_point_at_existing_operations(spec):
    by_id = operations_by_id(spec)
    found: dict[str, tuple[str, set[str]]] = {}
    for op_id, (_, _, _, op) in by_id.items():
        for code, response in op["responses"].items():
            for name, link in resolve(spec, response).get("links", {}).items():
                target = link.get("operationId")
                assert target in by_id, f"{op_id} link {name} -> unknown {target}"
                _, _, target_item, target_op = by_id[target]
                target_params = {p["name"] for p in parameters_of(spec, target_item, target_op) if p["in"] == "path"}
                assert set(link["parameters"]) <= target_params, (op_id, name)
                # every path id of the target comes from the link, the account and app too
                assert target_params == set(link["parameters"]), (op_id, name)
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
        assert body == {"$ref": f"#/components/schemas/{schema_name}"}
        payload = spec["components"]["schemas"][schema_name]
        assert payload["properties"]["event"]["const"] == event
        assert {"event", "meeting"} <= set(payload["required"])
        assert {"2XX", "4XX", "5XX"} <= set(op["responses"])
        assert op.get("security") == []


def test_webhook_subscriptions_take_every_described_event(spec):
    request = resolve(spec, {"$ref": "#/components/schemas/realtimekit_WebhookRequest"})
    enum = request["properties"]["events"]["items"]["enum"]
    assert set(WEBHOOK_EVENTS) <= set(enum)
    assert len(enum) == len(set(enum)) == 9


def test_schemathesis_loads_and_enumerates_operations():
    schema = schemathesis.openapi.from_path(str(SPEC_PATH))
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append((operation.method.lower(), operation.path))
    expected = {(method, PREFIX + suffix) for method, suffix, _ in OPERATIONS.values()}
    assert len(labels) == len(OPERATIONS)
    assert set(labels) == expected
    # the link graph must be usable for stateful testing
    assert schema.as_state_machine() is not None
