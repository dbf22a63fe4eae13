"""The suite's preset bodies are whole presets by Cloudflare's own schema, so an implementation
that follows create_preset to the letter accepts them; and they grant only what each role needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.preset_body import PRIVILEGES, ROLE_PERMISSIONS, preset_body
from conformance.resources import read_yaml

ROOT = Path(__file__).parents[1]
URN = "urn:doc"


def schema_validator(path: Path, pointer: str) -> Draft202012Validator:
    """The schema at `pointer` in an OpenAPI document, its `#/...` refs resolved in that document."""
    document = read_yaml(path)
    registry = Registry().with_resource(URN, Resource.from_contents(document, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{URN}#{pointer}"}, registry=registry)


def request_schema_pointer(path: Path) -> str:
    """Where the create-preset request body's schema sits in that document."""
    document = read_yaml(path)
    post = document["paths"]["/accounts/{account_id}/realtime/kit/{app_id}/presets"]["post"]
    body = post["requestBody"]
    while "$ref" in body:
        node: Any = document
        for part in body["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        body = node
    ref = body["content"]["application/json"]["schema"]["$ref"]
    return ref.removeprefix("#")


DOCUMENTS = {
    "official": ROOT / "openapi" / "cloudflare-realtimekit-openapi.yaml",
    "suite": ROOT / "openapi" / "realtimekit.yaml",
}


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
@pytest.mark.parametrize("role", sorted(ROLE_PERMISSIONS))
def test_role_body_is_a_valid_create_preset_request(document: str, role: str) -> None:
    path = DOCUMENTS[document]
    pointer = request_schema_pointer(path)
    if document == "official":
        assert pointer == "/components/schemas/realtimekit_Preset"
    body = preset_body(f"rtkc-{role}", ROLE_PERMISSIONS[role])
    errors = [f"{list(e.path)}: {e.message}" for e in schema_validator(path, pointer).iter_errors(body)]
    assert errors == []


def test_every_permission_the_schema_knows_as_a_privilege_is_set() -> None:
    # A required boolean Cloudflare adds later must be decided here, not left out (400).
    official = read_yaml(DOCUMENTS["official"])
    permissions = official["components"]["schemas"]["realtimekit_Preset"]["properties"]["permissions"]
    body = preset_body("p")["permissions"]
    assert set(permissions["required"]) <= set(body)
    assert set(PRIVILEGES) <= set(permissions["properties"])


def test_host_may_kick_and_participant_may_not() -> None:
    assert preset_body("h", ROLE_PERMISSIONS["host"])["permissions"]["kick_participant"] is True
    assert preset_body("p", ROLE_PERMISSIONS["participant"])["permissions"]["kick_participant"] is False


@pytest.mark.parametrize("role", sorted(ROLE_PERMISSIONS))
def test_nothing_else_is_granted(role: str) -> None:
    permissions = preset_body(role, ROLE_PERMISSIONS[role])["permissions"]
    granted = {flag for flag in PRIVILEGES if permissions[flag]}
    assert granted == {flag for flag, on in ROLE_PERMISSIONS[role].items() if on}
    assert permissions["waiting_room_type"] == "SKIP"  # the suite's joins are not held back
    assert permissions["recorder_type"] == "NONE" and permissions["is_recorder"] is False
    assert permissions["hidden_participant"] is False
    assert not any(permissions["plugins"][k] for k in ("can_start", "can_close", "can_edit_config"))
    assert not any(permissions["connected_meetings"].values())
    assert permissions["polls"]["can_create"] is False


def test_given_parts_change_only_the_keys_they_name() -> None:
    body = preset_body("x", {"media": {"video": {"can_produce": "NOT_ALLOWED"}}}, config={"view_type": "WEBINAR"})
    assert body["permissions"]["media"] == {
        "audio": {"can_produce": "ALLOWED"},
        "video": {"can_produce": "NOT_ALLOWED"},
        "screenshare": {"can_produce": "NOT_ALLOWED"},
    }
    assert body["config"]["view_type"] == "WEBINAR" and "max_video_streams" in body["config"]
    # The defaults are not shared between bodies.
    assert preset_body("y")["permissions"]["media"]["video"] == {"can_produce": "ALLOWED"}
