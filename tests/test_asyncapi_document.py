"""Static checks on openapi/realtimekit-asyncapi.yaml against openapi/realtime-protocol.md.

The markdown is the normative text; the AsyncAPI document is its machine-readable form.
These tests read the markdown's tables (message types, error codes, close codes) and fail
when the AsyncAPI document is missing one of them, so the two cannot drift apart silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from conformance.resources import read_yaml

OPENAPI_DIR = Path(__file__).parents[1] / "openapi"
DOC_PATH = OPENAPI_DIR / "realtimekit-asyncapi.yaml"
PROTOCOL_PATH = OPENAPI_DIR / "realtime-protocol.md"
DOC_URI = "urn:realtimekit-asyncapi"

CLIENT_REQUESTS = ("join", "leave", "kick", "kickAll")
SERVER_MESSAGES = ("roomJoined", "ack", "error", "participantJoined", "participantLeft", "roomLeft")
ROOM_LEFT_STATES = ["left", "kicked", "ended", "rejected", "disconnected"]
REQUIRED_ERROR_CODES = {4, 1005, 1106, 1201, 1202, 1203, 1205}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded = read_yaml(DOC_PATH)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def protocol_text() -> str:
    return PROTOCOL_PATH.read_text(encoding="utf-8")


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (`#/a/b`) until a node that is not a reference."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert isinstance(ref, str) and ref.startswith("#/"), f"not a local reference: {ref!r}"
        assert ref not in seen, f"reference cycle at {ref}"
        seen.add(ref)
        node = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, f"dangling reference {ref}"
            node = node[part]
    return node


def all_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every markdown table as a list of rows (header first, separator dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def markdown_message_types(text: str) -> set[str]:
    """Message types named in the `type` column of the protocol's tables."""
    names: set[str] = set()
    for table in markdown_tables(text):
        if table[0][0] == "`type`":
            names |= {m.group(1) for row in table[1:] if (m := re.fullmatch(r"`(\w+)`", row[0]))}
    return names


def markdown_error_codes(text: str) -> set[int]:
    """Codes in the first column of the protocol's `code` tables."""
    codes: set[int] = set()
    for table in markdown_tables(text):
        if table[0][0] == "code":
            codes |= {int(m.group(1)) for row in table[1:] if (m := re.match(r"`(\d+)`", row[0]))}
    return codes


def message_schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    message = resolve(doc, doc["components"]["messages"][name])
    return resolve(doc, message["payload"])


def validator_for(doc: dict[str, Any], schema_name: str) -> Draft202012Validator:
    """A validator for one component schema, with `#/components/...` refs resolvable."""
    registry = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
    return Draft202012Validator({"$ref": f"{DOC_URI}#/components/schemas/{schema_name}"}, registry=registry)


# -- the document's shape ---------------------------------------------------------------------


def test_is_asyncapi_3(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["defaultContentType"] == "application/json"


def test_one_websocket_server_and_channel(doc: dict[str, Any]) -> None:
    assert len(doc["servers"]) == 1
    (server,) = doc["servers"].values()
    assert server["protocol"] == "ws"
    assert len(doc["channels"]) == 1
    (channel,) = doc["channels"].values()
    assert [resolve(doc, ref) for ref in channel["servers"]] == [server]


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    for ref in all_refs(doc):
        resolve(doc, {"$ref": ref})


def test_client_requests_are_send_operations_with_replies(doc: dict[str, Any]) -> None:
    channel_path = "#/channels/" + next(iter(doc["channels"]))
    for name in CLIENT_REQUESTS:
        operation = doc["operations"][name]
        assert operation["action"] == "send", name
        assert operation["channel"] == {"$ref": channel_path}
        assert operation["messages"] == [{"$ref": f"{channel_path}/messages/{name}"}]
        replies = {ref["$ref"].rsplit("/", 1)[1] for ref in operation["reply"]["messages"]}
        expected = {"roomJoined", "error"} if name == "join" else {"ack", "error"}
        assert replies == expected, name


def test_server_messages_are_receive_operations(doc: dict[str, Any]) -> None:
    received = {
        ref["$ref"].rsplit("/", 1)[1]
        for operation in doc["operations"].values()
        if operation["action"] == "receive"
        for ref in operation["messages"]
    }
    assert received == set(SERVER_MESSAGES)
    sent = {
        ref["$ref"].rsplit("/", 1)[1]
        for operation in doc["operations"].values()
        if operation["action"] == "send"
        for ref in operation["messages"]
    }
    assert sent == set(CLIENT_REQUESTS)


def test_operation_messages_belong_to_their_channel(doc: dict[str, Any]) -> None:
    # AsyncAPI 3: an operation may only list messages of the channel it names.
    for name, operation in doc["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for ref in [*operation["messages"], *operation.get("reply", {}).get("messages", [])]:
            assert ref["$ref"].startswith(channel_ref + "/messages/"), (name, ref)


# -- the document against the markdown --------------------------------------------------------


def test_markdown_tables_are_read(protocol_text: str) -> None:
    # Guards the parsers below: if the markdown's layout changes they must not pass vacuously.
    assert markdown_message_types(protocol_text) >= {"join", "kickAll", "roomLeft"}
    assert markdown_error_codes(protocol_text) >= {4, 1201}


@pytest.mark.parametrize("name", [*CLIENT_REQUESTS, *SERVER_MESSAGES])
def test_every_protocol_message_has_a_payload_schema(doc: dict[str, Any], name: str) -> None:
    message = resolve(doc, doc["channels"]["realtime"]["messages"][name])
    assert message["name"] == name
    schema = resolve(doc, message["payload"])
    assert schema["type"] == "object"
    assert schema["properties"]["type"] == {"const": name}
    assert "type" in schema["required"]


def test_markdown_messages_are_all_described(doc: dict[str, Any], protocol_text: str) -> None:
    named = markdown_message_types(protocol_text) | {"roomJoined", "ack", "error"}
    missing = named - set(doc["components"]["messages"])
    assert not missing, f"messages in realtime-protocol.md without an AsyncAPI message: {missing}"
    assert named == {*CLIENT_REQUESTS, *SERVER_MESSAGES}


def test_payload_schemas_are_valid_json_schema(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema.get("description") or schema.get("properties"), f"{name}: undocumented"
    for name in doc["components"]["messages"]:
        Draft202012Validator.check_schema(message_schema(doc, name))


def test_requests_carry_an_id_and_answers_a_reply_to(doc: dict[str, Any]) -> None:
    for name in CLIENT_REQUESTS:
        assert "id" in message_schema(doc, name)["required"], name
    for name in ("roomJoined", "ack", "error"):
        assert "reply_to" in message_schema(doc, name)["required"], name


def test_join_carries_the_token_in_the_message(doc: dict[str, Any]) -> None:
    schema = message_schema(doc, "join")
    assert "token" in schema["required"]
    assert schema["properties"]["token"].get("writeOnly") is True


def test_room_left_states(doc: dict[str, Any]) -> None:
    state = resolve(doc, message_schema(doc, "roomLeft")["properties"]["state"])
    assert state["enum"] == ROOM_LEFT_STATES
    for value in ROOM_LEFT_STATES:
        assert f"`{value}`" in state["description"], value


def test_participant_left_reasons(doc: dict[str, Any]) -> None:
    reason = message_schema(doc, "participantLeft")["properties"]["reason"]
    assert reason["enum"] == ["left", "kicked", "disconnected"]


def test_error_codes(doc: dict[str, Any], protocol_text: str) -> None:
    code = resolve(doc, message_schema(doc, "error")["properties"]["code"])
    assert code["type"] == "integer"
    codes = set(code["enum"])
    assert codes >= REQUIRED_ERROR_CODES
    assert codes >= markdown_error_codes(protocol_text) | {0}  # 0: "malformed frame"
    for value in codes:
        assert f"`{value}`" in code["description"], f"error code {value} is not described"


def test_close_codes(doc: dict[str, Any], protocol_text: str) -> None:
    in_markdown = {int(c) for c in re.findall(r"close code (\d{4})", protocol_text)}
    in_markdown |= {int(c) for c in re.findall(r"\b(\d{4}) for a", protocol_text)}
    assert in_markdown >= {1000, 4001, 4003}
    close_codes = doc["channels"]["realtime"]["x-close-codes"]
    assert {int(c) for c in close_codes} == in_markdown
    assert all(isinstance(text, str) and text for text in close_codes.values())


def test_permissions_use_camel_case_names(doc: dict[str, Any]) -> None:
    permissions = resolve(doc, message_schema(doc, "roomJoined")["properties"]["permissions"])
    assert "kickParticipant" in permissions["required"]
    assert all("_" not in name for name in permissions["properties"])


# -- examples are instances of their schemas --------------------------------------------------


def test_message_examples_match_their_payloads(doc: dict[str, Any]) -> None:
    checked = 0
    for name, message in doc["components"]["messages"].items():
        schema_name = message["payload"]["$ref"].rsplit("/", 1)[1]
        validator = validator_for(doc, schema_name)
        for example in message.get("examples", []):
            errors = [e.message for e in validator.iter_errors(example["payload"])]
            assert not errors, f"{name} example {example['name']!r}: {errors}"
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize(
    ("schema_name", "payload"),
    [
        ("RoomLeft", {"type": "roomLeft", "state": "gone"}),
        ("Error", {"type": "error", "reply_to": "1", "code": 4242, "message": "?"}),
        ("KickRequest", {"type": "kick", "id": "1"}),
        ("JoinRequest", {"type": "join", "id": "1"}),
        ("Ack", {"type": "ack", "reply_to": "1", "kicked_participants_count": -1}),
    ],
)
def test_schemas_reject_what_the_protocol_forbids(
    doc: dict[str, Any], schema_name: str, payload: dict[str, Any]
) -> None:
    assert not validator_for(doc, schema_name).is_valid(payload)


def test_reference_frames_match_the_schemas(doc: dict[str, Any]) -> None:
    # Frames as the reference implementation builds them (conformance/reference/sessions.py).
    peer = {
        "id": "p1",
        "participant_id": "u1",
        "custom_participant_id": "c1",
        "name": None,
        "preset_name": "group_call_participant",
    }
    frames = {
        "ParticipantJoined": {"type": "participantJoined", "participant": peer},
        "ParticipantLeft": {
            "type": "participantLeft",
            "participant": peer,
            "reason": "disconnected",
        },
        "Error": {"type": "error", "reply_to": None, "code": 0, "message": "malformed frame"},
        "RoomJoined": {
            "type": "roomJoined",
            "reply_to": "1",
            "meeting_id": "m",
            "session_id": "s",
            "self": peer,
            "permissions": {"kickParticipant": False, "canRecord": False},
            "participants": [],
        },
    }
    for schema_name, frame in frames.items():
        errors = [e.message for e in validator_for(doc, schema_name).iter_errors(frame)]
        assert not errors, f"{schema_name}: {errors}"
