"""The session-admin backend's contract with RealtimeKit's REST API, one interaction per test.

Every request runs the real consumer code against pact's mock server, so the contract
holds exactly what the back office sends and what it reads from the answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pact import match

from contracts.consumers.session_admin import (
    MeetingNotFound,
    NotAuthenticated,
    NotPermitted,
    RequestRejected,
    SessionAdmin,
)
from contracts.consumers.terms import (
    EXAMPLE_TIME,
    MEETING_ID,
    SESSION_ID,
    WEBHOOK_ID,
    WEBHOOK_URL,
    bearer,
    error_envelope,
    from_provider_state,
    json_content_type,
    meeting_path,
    new_pact,
    timestamp,
    uuid,
)

CONSUMER = "session-admin-backend"
LIVE_WITH_3 = ("meeting M has a live session", {"participants": 3})


def admin_at(server: object, token: str = "example-admin-token") -> SessionAdmin:
    return SessionAdmin(str(server.url), token)  # type: ignore[attr-defined]


def respond_json(interaction, status: int, body: dict) -> None:
    (
        interaction.will_respond_with(status)
        .with_header("Content-Type", json_content_type(), part="Response")
        .with_body(body, part="Response")
    )


def test_ends_the_live_session_for_everyone(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request to end the live session")
        .given(*LIVE_WITH_3)
        .with_request("POST", meeting_path("/active-session/kick-all"))
        .with_header("Authorization", bearer())
    )
    # Three were in class, so three were removed: the count is the point of the answer.
    # `action` is optional in Cloudflare's schema and the back office does not read it, so the
    # contract does not ask for it.
    respond_json(interaction, 200, {"success": True, "data": {"kicked_participants_count": 3}})
    with pact.serve() as mock, admin_at(mock) as admin:
        assert admin.end_class(MEETING_ID) == 3
    pact.write_file(pact_dir)


def test_ending_a_class_that_already_ended_is_not_an_error(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request to end the session of a meeting with no live session")
        .given("meeting M has no live session")
        .with_request("POST", meeting_path("/active-session/kick-all"))
        .with_header("Authorization", bearer())
    )
    respond_json(interaction, 404, error_envelope(404))
    with pact.serve() as mock, admin_at(mock) as admin:
        assert admin.end_class(MEETING_ID) is None
    pact.write_file(pact_dir)


def test_reads_the_live_session(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request for the live session")
        .given(*LIVE_WITH_3)
        .with_request("GET", meeting_path("/active-session"))
        .with_header("Authorization", bearer())
    )
    respond_json(
        interaction,
        200,
        {
            "success": True,
            "data": {
                "id": uuid(SESSION_ID),
                "associated_id": uuid(MEETING_ID),
                "status": "LIVE",
                "live_participants": 3,
                "started_at": timestamp(),
            },
        },
    )
    with pact.serve() as mock, admin_at(mock) as admin:
        live = admin.live_session(MEETING_ID)
    assert live is not None and live.live_participants == 3 and live.meeting_id == MEETING_ID
    pact.write_file(pact_dir)


def test_no_live_session_reads_as_nobody_in_class(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request for the live session of a meeting with no live session")
        .given("meeting M has no live session")
        .with_request("GET", meeting_path("/active-session"))
        .with_header("Authorization", bearer())
    )
    respond_json(interaction, 404, error_envelope(404))
    with pact.serve() as mock, admin_at(mock) as admin:
        assert admin.live_session(MEETING_ID) is None
    pact.write_file(pact_dir)


@pytest.mark.parametrize(
    ("description", "state", "status", "act"),
    [
        ("a request to deactivate the meeting", "meeting M is ACTIVE", "INACTIVE", SessionAdmin.take_out_of_service),
        ("a request to reactivate the meeting", "meeting M is INACTIVE", "ACTIVE", SessionAdmin.put_back_in_service),
    ],
    ids=["deactivate", "reactivate"],
)
def test_changes_the_meeting_status(pact_dir: Path, description: str, state: str, status: str, act) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving(description)
        .given(state)
        .with_request("PATCH", meeting_path())
        .with_header("Authorization", bearer())
        .with_body({"status": status}, content_type="application/json", part="Request")
    )
    # Only `id` is required in Cloudflare's meeting schema: a 200 is all the back office needs.
    respond_json(interaction, 200, {"success": True, "data": {"id": uuid(MEETING_ID)}})
    with pact.serve() as mock, admin_at(mock) as admin:
        assert act(admin, MEETING_ID) == MEETING_ID
    pact.write_file(pact_dir)


def test_an_invalid_status_is_rejected(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request to set a meeting status that does not exist")
        .given("meeting M is ACTIVE")
        .with_request("PATCH", meeting_path())
        .with_header("Authorization", bearer())
        .with_body({"status": "PAUSED"}, content_type="application/json", part="Request")
    )
    respond_json(interaction, 400, error_envelope(400))
    with pact.serve() as mock, admin_at(mock) as admin, pytest.raises(RequestRejected):
        admin._set_status(MEETING_ID, "PAUSED")
    pact.write_file(pact_dir)


def test_an_unknown_meeting_is_not_found(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request to deactivate a meeting that does not exist")
        .given("no meeting has id M")
        .with_request("PATCH", meeting_path())
        .with_header("Authorization", bearer())
        .with_body({"status": "INACTIVE"}, content_type="application/json", part="Request")
    )
    respond_json(interaction, 404, error_envelope(404))
    with pact.serve() as mock, admin_at(mock) as admin, pytest.raises(MeetingNotFound):
        admin.take_out_of_service(MEETING_ID)
    pact.write_file(pact_dir)


def test_registers_the_class_ended_webhook(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request to register a meeting.ended webhook")
        .given("an endpoint is ready to receive webhooks")
        .with_request("POST", "/webhooks")
        .with_header("Authorization", bearer())
        .with_body(
            {
                "name": "session-admin: classes ended",
                "url": from_provider_state("${webhookUrl}", WEBHOOK_URL),
                "events": ["meeting.ended"],
                "enabled": True,
            },
            content_type="application/json",
            part="Request",
        )
    )
    respond_json(
        interaction,
        201,
        {
            "success": True,
            "data": {
                "id": uuid(WEBHOOK_ID),
                "name": match.str("session-admin: classes ended"),
                "url": match.str(WEBHOOK_URL),
                "events": ["meeting.ended"],
                "enabled": True,
                "created_at": timestamp(),
                "updated_at": timestamp(EXAMPLE_TIME),
            },
        },
    )
    with pact.serve() as mock, admin_at(mock) as admin:
        webhook = admin.watch_ended_classes(WEBHOOK_URL)
    assert webhook.events == ("meeting.ended",) and webhook.enabled
    pact.write_file(pact_dir)


def test_a_revoked_token_is_told_apart(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request to end the live session with a revoked API token")
        .given("meeting M has no live session")
        .given("the API token is not valid")
        .with_request("POST", meeting_path("/active-session/kick-all"))
        .with_header("Authorization", bearer("revoked-admin-token"))
    )
    respond_json(interaction, 401, error_envelope(401))
    with pact.serve() as mock, admin_at(mock, "revoked-admin-token") as admin, pytest.raises(NotAuthenticated):
        admin.end_class(MEETING_ID)
    pact.write_file(pact_dir)


def test_a_token_without_the_realtime_permission_is_told_apart(pact_dir: Path) -> None:
    pact = new_pact(CONSUMER)
    interaction = (
        pact.upon_receiving("a request to end the live session with a token lacking the Realtime permission")
        .given("meeting M has no live session")
        .given("the API token lacks the Realtime permission")
        .with_request("POST", meeting_path("/active-session/kick-all"))
        .with_header("Authorization", bearer("token-without-realtime"))
    )
    respond_json(interaction, 403, error_envelope(403))
    with pact.serve() as mock, admin_at(mock, "token-without-realtime") as admin, pytest.raises(NotPermitted):
        admin.end_class(MEETING_ID)
    pact.write_file(pact_dir)
