"""REST resources behaving as openapi/realtimekit.yaml describes: participants and their
tokens, presets, paging and filters, sessions' participants."""

from __future__ import annotations

import pytest

from conformance.drivers.base import ClientError
from conformance.preset_body import preset_body
from conformance.reference.preset_defaults import whole

from .conftest import HOST, PARTICIPANT, Api, Room, assert_error, pointer, schema_errors


async def test_schema_validation_in_these_tests_is_not_vacuous() -> None:
    path = "/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}"
    meeting = pointer("paths", path, "get", "responses", "200", "content", "application/json", "schema")
    assert schema_errors(meeting, {"success": True, "data": {}})
    assert schema_errors(
        meeting,
        {
            "success": True,
            "data": {
                "id": "not-a-uuid",
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z",
                "status": "ACTIVE",
            },
        },
    )
    assert schema_errors(
        meeting,
        {
            "success": True,
            "data": {
                "id": "0b6c1f8e-8d0e-4c6b-9b8e-2d1f4a3c5e7a",
                "created_at": "yesterday",
                "updated_at": "2024-01-01T00:00:00Z",
                "status": "ACTIVE",
            },
        },
    )
    assert not schema_errors(
        meeting,
        {
            "success": True,
            "data": {
                "id": "0b6c1f8e-8d0e-4c6b-9b8e-2d1f4a3c5e7a",
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00.123Z",
                "status": "ACTIVE",
            },
        },
    )


async def test_custom_participant_id_is_unique_within_a_meeting(api: Api, room: Room) -> None:
    await room.register("dup")
    body = {"custom_participant_id": "dup", "preset_name": PARTICIPANT}
    assert_error(await api.post(f"/meetings/{room.id}/participants", json=body), 409)
    other = await api.create_meeting()
    assert (await api.post(f"/meetings/{other['id']}/participants", json=body)).status_code == 201
    listed = await api.data("GET", f"/meetings/{room.id}/participants")
    assert [p["custom_participant_id"] for p in listed] == ["dup"]
    assert all("token" not in p for p in listed)


async def test_participant_of_another_meeting_is_404(api: Api, room: Room) -> None:
    other = await api.create_meeting()
    stranger = await api.add_participant(other["id"])
    assert_error(await api.get(f"/meetings/{room.id}/participants/{stranger['id']}"), 404)
    assert_error(await api.delete(f"/meetings/{room.id}/participants/{stranger['id']}"), 404)
    assert (await api.get(f"/meetings/{other['id']}/participants/{stranger['id']}")).status_code == 200


async def test_deleting_a_participant_removes_it_from_the_room(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    mark = host.mark()
    alice_id = room.registered["alice"]["id"]

    deleted = await api.data("DELETE", f"/meetings/{room.id}/participants/{alice_id}")

    assert deleted["custom_participant_id"] == "alice"
    assert (await alice.wait_for("roomLeft"))["state"] == "kicked"
    assert (await host.wait_for("participantLeft", since=mark))["participant"]["id"] == alice.peer_id
    assert_error(await api.get(f"/meetings/{room.id}/participants/{alice_id}"), 404)
    again = await room.driver.participant("alice-again")
    with pytest.raises(ClientError) as refused:
        await again.join(room.registered["alice"]["token"])
    assert refused.value.code == 4


async def test_refreshing_a_token_replaces_it(api: Api, room: Room) -> None:
    doc = await room.register("alice")
    fresh = await api.data("POST", f"/meetings/{room.id}/participants/{doc['id']}/token")
    old = await room.driver.participant("old")
    with pytest.raises(ClientError):
        await old.join(doc["token"])
    new = await room.driver.participant("new")
    joined = await new.join(fresh["token"])
    assert joined["self"]["participant_id"] == doc["id"]


async def test_editing_a_participant_changes_its_preset_for_the_next_join(api: Api, room: Room) -> None:
    doc = await room.register("promoted", PARTICIPANT)
    edited = await api.data("PATCH", f"/meetings/{room.id}/participants/{doc['id']}", json={"preset_name": HOST})
    assert edited["preset_name"] == HOST
    assert edited["custom_participant_id"] == "promoted"
    p = await room.join("promoted")
    assert p.permissions["kickParticipant"] is True
    assert_error(await api.patch(f"/meetings/{room.id}/participants/{doc['id']}", json={"preset_name": "nope"}), 409)


async def test_preset_update_replaces_permissions_as_a_whole(api: Api) -> None:
    created = await api.data(
        "POST",
        "/presets",
        201,
        json=preset_body("replace-me", {"kick_participant": True, "can_record": True, "pin_participant": True}),
    )
    assert created["permissions"]["can_record"] is True
    path = f"/presets/{created['id']}"

    updated = await api.data("PATCH", path, json={"permissions": {"kick_participant": False}})

    # The reference's choice (Cloudflare is silent): a permissions object, when given, replaces
    # the stored one as a whole, what it leaves out taking the reference's defaults.
    assert updated["permissions"] == whole("permissions", {"kick_participant": False})
    assert updated["permissions"]["can_record"] is False
    assert (await api.data("GET", path))["permissions"] == updated["permissions"]
    renamed = await api.data("PATCH", path, json={"name": "replaced"})
    assert renamed["permissions"] == updated["permissions"]  # no permissions given: unchanged


async def test_preset_names_are_unique(api: Api) -> None:
    body = preset_body("unique-name")
    first = await api.data("POST", "/presets", 201, json=body)
    assert_error(await api.post("/presets", json=body), 409)
    second = await api.data("POST", "/presets", 201, json={**body, "name": "unique-name-2"})
    assert_error(await api.patch(f"/presets/{second['id']}", json={"name": "unique-name"}), 409)
    assert (await api.data("PATCH", f"/presets/{first['id']}", json={"name": "unique-name"}))["id"] == first["id"]
    names = [p["name"] for p in await api.data("GET", "/presets", params={"per_page": 100})]
    assert names.count("unique-name") == 1
    assert {HOST, PARTICIPANT} <= set(names)  # seeded in every app


async def test_paging(api: Api) -> None:
    meeting = await api.create_meeting()
    for i in range(5):
        await api.add_participant(meeting["id"], custom_id=f"p{i}")
    path = f"/meetings/{meeting['id']}/participants"
    response = await api.get(path, params={"page_no": 2, "per_page": 2})
    body = response.json()
    assert [p["custom_participant_id"] for p in body["data"]] == ["p2", "p3"]
    assert body["paging"] == {"start_offset": 2, "end_offset": 4, "total_count": 5}
    last = (await api.get(path, params={"page_no": 3, "per_page": 2})).json()
    assert [p["custom_participant_id"] for p in last["data"]] == ["p4"]
    beyond = (await api.get(path, params={"page_no": 9, "per_page": 2})).json()
    assert beyond["data"] == [] and beyond["paging"]["total_count"] == 5


async def test_meeting_filters(api: Api) -> None:
    marker = "needle-7c1f"
    found = await api.create_meeting(title=f"a {marker} meeting")
    inactive = await api.create_meeting(title=f"another {marker}")
    await api.data("PATCH", f"/meetings/{inactive['id']}", json={"status": "INACTIVE"})
    hits = await api.data("GET", "/meetings", params={"search": marker.upper(), "per_page": 100})
    assert {m["id"] for m in hits} == {found["id"], inactive["id"]}
    active = await api.data("GET", "/meetings", params={"search": marker, "status": "ACTIVE", "per_page": 100})
    assert [m["id"] for m in active] == [found["id"]]
    future = await api.data("GET", "/meetings", params={"start_time": "2999-01-01T00:00:00Z"})
    assert future == []


async def test_sessions_list_their_participants_per_join(api: Api, room: Room) -> None:
    alice = await room.join("alice")
    await alice.leave()
    again = await room.join("alice")
    await room.join("bob")
    session_id = str(again.session_id)

    data = await api.data("GET", f"/sessions/{session_id}/participants")

    entries = data["participants"]
    assert [e["custom_participant_id"] for e in entries] == ["alice", "alice", "bob"]
    assert entries[0]["id"] == alice.peer_id and entries[0]["left_at"]
    assert entries[1]["id"] == again.peer_id and entries[1].get("left_at") is None
    assert {e["user_id"] for e in entries[:2]} == {room.registered["alice"]["id"]}
    session = await api.session(session_id)
    assert session["max_concurrent_participants"] == 2
    assert session["live_participants"] == 2
    newest_first = await api.data("GET", "/sessions", params={"per_page": 100})
    oldest_first = await api.data("GET", "/sessions", params={"per_page": 100, "sort_order": "ASC"})
    assert [s["id"] for s in newest_first["sessions"]] == [s["id"] for s in reversed(oldest_first["sessions"])]
