"""API tokens: 401 without a valid one, 403 without the permission, 404 across accounts;
none of them has any effect. PERM-04, PERM-05."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api, Room, assert_error


async def snapshot(api: Api, room: Room) -> dict[str, Any]:
    """Everything a refused request could have changed."""
    return {
        "meeting": await api.meeting(room.id),
        "meetings": await api.data("GET", "/meetings", params={"per_page": 100}),
        "participants": await api.data("GET", f"/meetings/{room.id}/participants"),
        "sessions": await api.sessions_of(room.id),
        "presets": await api.data("GET", "/presets", params={"per_page": 100}),
        "webhooks": await api.data("GET", "/webhooks"),
    }


def attempts(room: Room) -> list[tuple[str, str, Any]]:
    """One read and several writes, each of which would change something if allowed."""
    return [
        ("GET", f"/meetings/{room.id}", None),
        ("GET", "/meetings", None),
        ("POST", "/meetings", {"title": "intruder"}),
        ("PATCH", f"/meetings/{room.id}", {"status": "INACTIVE", "title": "hijacked"}),
        (
            "POST",
            f"/meetings/{room.id}/participants",
            {"custom_participant_id": "intruder", "preset_name": "group_call_host"},
        ),
        ("POST", f"/meetings/{room.id}/active-session/kick-all", None),
        ("POST", "/presets", {"name": "intruder", "permissions": {"kick_participant": True}}),
        ("POST", "/webhooks", {"name": "intruder", "url": "http://127.0.0.1:9/", "events": ["meeting.ended"]}),
    ]


@pytest.mark.parametrize(
    ("credentials", "status"),
    [
        ("none", 401),
        ("garbage", 401),
        ("basic", 401),
        ("empty-bearer", 401),
        ("no-permission", 403),
    ],
)
async def test_refused_tokens_have_no_effect(api: Api, room: Room, credentials: str, status: int) -> None:
    alice = await room.join("alice")
    before = await snapshot(api, room)
    headers: dict[str, str] = {}
    token: Any = None
    if credentials == "garbage":
        token = "rtka_not-a-real-token"
    elif credentials == "basic":
        headers = {"authorization": f"Basic {api.creds.admin_token}"}
    elif credentials == "empty-bearer":
        headers = {"authorization": "Bearer"}
    elif credentials == "no-permission":
        token = api.creds.no_permission_token

    for method, path, body in attempts(room):
        response = await api.request(method, path, token=token, headers=headers, json=body)
        assert_error(response, status)

    assert await snapshot(api, room) == before
    assert alice.room_state == "joined"


async def test_read_only_token_reads_but_cannot_write(api: Api, room: Room) -> None:
    alice = await room.join("alice")
    before = await snapshot(api, room)
    token = api.creds.readonly_token

    read = await api.get(f"/meetings/{room.id}", token=token)
    assert read.status_code == 200 and read.json()["data"] == before["meeting"]
    assert (await api.get("/meetings", token=token)).status_code == 200
    assert (await api.get(f"/meetings/{room.id}/active-session", token=token)).status_code == 200
    for method, path, body in attempts(room):
        if method == "GET":
            continue
        assert_error(await api.request(method, path, token=token, json=body), 403)

    assert await snapshot(api, room) == before
    assert alice.room_state == "joined"


async def test_another_accounts_token_sees_nothing_here(api: Api, room: Room) -> None:
    alice = await room.join("alice")
    session_id = alice.session_id
    before = await snapshot(api, room)
    other = api.creds.other_token

    # the other account's token on this account's paths
    for method, path, body in attempts(room):
        assert_error(await api.request(method, path, token=other, json=body), 404)

    # the other account's token on its own paths, naming this account's resources
    own = api.app_prefix(api.creds.other_account_id, api.creds.other_app_id)
    for method, path, body in [
        ("GET", f"/meetings/{room.id}", None),
        ("PATCH", f"/meetings/{room.id}", {"status": "INACTIVE"}),
        ("GET", f"/meetings/{room.id}/participants", None),
        ("GET", f"/meetings/{room.id}/participants/{room.registered['alice']['id']}", None),
        ("POST", f"/meetings/{room.id}/participants/{room.registered['alice']['id']}/token", None),
        ("GET", f"/meetings/{room.id}/active-session", None),
        ("POST", f"/meetings/{room.id}/active-session/kick-all", None),
        (
            "POST",
            f"/meetings/{room.id}/active-session/kick",
            {"participant_ids": [room.registered["alice"]["id"]], "custom_participant_ids": []},
        ),
        ("GET", f"/sessions/{session_id}", None),
        ("GET", f"/sessions/{session_id}/participants", None),
        ("POST", "/recordings", {"meeting_id": room.id}),
    ]:
        response = await api.request(method, own + path, token=other, json=body)
        assert_error(response, 404)
    listed = await api.get(own + "/meetings", token=other, params={"per_page": 100})
    assert listed.status_code == 200
    assert room.id not in [m["id"] for m in listed.json()["data"]]
    sessions = await api.get(own + "/sessions", token=other)
    assert session_id not in [s["id"] for s in sessions.json()["data"]["sessions"]]

    assert await snapshot(api, room) == before
    assert alice.room_state == "joined"


async def test_this_accounts_token_cannot_reach_the_other_account(api: Api) -> None:
    other_meeting = await api.data(
        "POST",
        "/meetings",
        201,
        json={"title": "theirs"},
        prefix=api.app_prefix(api.creds.other_account_id, api.creds.other_app_id),
        token=api.creds.other_token,
    )
    own = api.app_prefix(api.creds.other_account_id, api.creds.other_app_id)
    assert_error(await api.get(own + f"/meetings/{other_meeting['id']}"), 404)
    assert_error(await api.get(f"/meetings/{other_meeting['id']}"), 404)
    assert_error(await api.patch(f"/meetings/{other_meeting['id']}", json={"title": "mine"}), 404)
    theirs = await api.get(own + f"/meetings/{other_meeting['id']}", token=api.creds.other_token)
    assert theirs.json()["data"] == other_meeting


async def test_the_test_clock_needs_a_valid_token(api: Api) -> None:
    before = await api.now()
    for token in (None, "rtka_not-a-real-token"):
        response = await api.post(f"{api.origin}/_conformance/clock/advance", token=token, json={"seconds": 86400})
        assert_error(response, 401)
    assert (await api.now()) - before < 60  # the clock did not jump a day
