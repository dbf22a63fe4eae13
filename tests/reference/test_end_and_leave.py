"""Ending a session (kick-all) versus one participant going (leave, kick).

END-01/02/03/06/07/09, LEAVE-01/02/03, KICK-01, MEET-01.
"""

from __future__ import annotations

import asyncio

from .conftest import HOST, Api, Receiver, Room, assert_error, close_code, settle


async def test_rest_kick_all_ends_the_session_for_everyone(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    bob = await room.join("bob")
    session_id = host.session_id
    assert session_id and alice.session_id == session_id == bob.session_id
    assert (await room.session())["live_participants"] == 3
    marks = {p: p.mark() for p in (host, alice, bob)}

    response = await api.kick_all(room.id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert isinstance(body["data"]["action"], str)
    assert body["data"]["kicked_participants_count"] == 3
    for p in (host, alice, bob):
        left = await p.wait_for("roomLeft", since=marks[p])
        assert left["state"] == "ended", left
        assert p.room_state == "ended"
        assert await close_code(p) == 1000
        # an end sends nobody a participantLeft
        assert p.received("participantLeft", since=marks[p]) == []

    session = await api.session(session_id)
    assert session["status"] == "ENDED"
    assert session["ended_at"]
    assert session["live_participants"] == 0
    assert_error(await api.active_session(room.id), 404)
    assert (await api.meeting(room.id))["status"] == "ACTIVE"


async def test_leave_is_one_participant_only(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    bob = await room.join("bob")
    before = await room.session()
    assert before["live_participants"] == 3
    marks = {p: p.mark() for p in (host, alice, bob)}

    await alice.leave()

    left = await alice.wait_for("roomLeft", since=marks[alice])
    assert left["state"] == "left"
    assert alice.room_state == "left"
    assert await close_code(alice) == 1000
    for other in (host, bob):
        told = await other.wait_for("participantLeft", since=marks[other])
        assert told["participant"]["id"] == alice.peer_id
        assert told["reason"] == "left"
        assert other.room_state == "joined"
        assert other.received("roomLeft", since=marks[other]) == []
    after = await room.session()
    assert after["id"] == before["id"]
    assert after["status"] == "LIVE"
    assert after["live_participants"] == 2


async def test_host_leaving_does_not_end_the_session(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    mark = alice.mark()

    await host.leave()

    told = await alice.wait_for("participantLeft", since=mark)
    assert told["participant"]["id"] == host.peer_id
    await settle(api.srv)
    assert alice.room_state == "joined"
    session = await room.session()
    assert session["status"] == "LIVE"
    assert session["live_participants"] == 1


async def test_participant_left_webhook_carries_left_at(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("left"), ["meeting.participantLeft"])
    await room.join("host", HOST)
    alice = await room.join("alice")

    await alice.leave()

    (delivery,) = await receiver.wait("left", "meeting.participantLeft", room.id)
    participant = delivery.json["participant"]
    assert participant["peerId"] == alice.peer_id
    assert participant["leftAt"]
    assert participant["customParticipantId"] == "alice"


async def test_rest_kick_removes_only_that_participant(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    bob = await room.join("bob")
    marks = {p: p.mark() for p in (host, alice, bob)}

    response = await api.post(
        f"/meetings/{room.id}/active-session/kick",
        json={"participant_ids": [room.registered["alice"]["id"]], "custom_participant_ids": []},
    )

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [p["id"] for p in data["participants"]] == [room.registered["alice"]["id"]]
    left = await alice.wait_for("roomLeft", since=marks[alice])
    assert left["state"] == "kicked"
    for other in (host, bob):
        told = await other.wait_for("participantLeft", since=marks[other])
        assert told["participant"]["id"] == alice.peer_id
        assert told["reason"] == "kicked"
        assert other.room_state == "joined"
    session = await room.session()
    assert session["status"] == "LIVE"
    assert session["live_participants"] == 2


async def test_rest_kick_by_custom_participant_id(api: Api, room: Room) -> None:
    await room.join("host", HOST)
    bob = await room.join("bob")

    response = await api.post(
        f"/meetings/{room.id}/active-session/kick", json={"participant_ids": [], "custom_participant_ids": ["bob"]}
    )

    assert response.status_code == 200, response.text
    assert (await bob.wait_for("roomLeft"))["state"] == "kicked"
    assert (await room.session())["live_participants"] == 1


async def test_rest_kick_of_someone_absent_is_404_and_changes_nothing(api: Api, room: Room) -> None:
    alice = await room.join("alice")
    absent = await room.register("absent")

    response = await api.post(
        f"/meetings/{room.id}/active-session/kick",
        json={"participant_ids": [absent["id"]], "custom_participant_ids": []},
    )

    assert_error(response, 404)
    await settle(api.srv)
    assert alice.room_state == "joined"
    assert (await room.session())["live_participants"] == 1


async def test_kick_all_without_a_live_session_is_404_and_changes_nothing(api: Api, room: Room) -> None:
    before = await api.meeting(room.id)

    response = await api.kick_all(room.id)

    assert_error(response, 404)
    assert await api.sessions_of(room.id) == []
    assert await api.meeting(room.id) == before


async def test_ending_twice_yields_one_end(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("twice"), ["meeting.ended", "meeting.participantJoined"])
    await room.join("alice")

    first = await api.kick_all(room.id)
    second = await api.kick_all(room.id)

    assert first.status_code == 200
    assert_error(second, 404)
    # A later event on the same webhook is the barrier: deliveries go out in order, so
    # a second meeting.ended would have arrived before it.
    await room.join("barrier")
    await receiver.wait("twice", "meeting.participantJoined", room.id, count=2)
    assert len(receiver.on("twice", "meeting.ended", room.id)) == 1


async def test_concurrent_ends_yield_one_end(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("race"), ["meeting.ended", "meeting.participantJoined"])
    await room.join("alice")
    await room.join("bob")

    responses = await asyncio.gather(*(api.kick_all(room.id) for _ in range(4)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 404, 404, 404], statuses
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.json()["data"]["kicked_participants_count"] == 2
    await room.join("barrier")
    await receiver.wait("race", "meeting.participantJoined", room.id, count=3)
    assert len(receiver.on("race", "meeting.ended", room.id)) == 1


async def test_meeting_stays_active_and_a_join_after_the_end_starts_a_new_session(api: Api, room: Room) -> None:
    alice = await room.join("alice")
    first_session = alice.session_id
    assert (await api.kick_all(room.id)).status_code == 200
    await alice.wait_for("roomLeft")
    assert (await api.meeting(room.id))["status"] == "ACTIVE"

    again = await room.join("alice")  # the same participant token, a new connection

    assert again.session_id and again.session_id != first_session
    live = await room.session()
    assert live["id"] == again.session_id
    assert live["status"] == "LIVE"
    assert (await api.session(first_session))["status"] == "ENDED"
    statuses = {s["id"]: s["status"] for s in await api.sessions_of(room.id)}
    assert statuses == {first_session: "ENDED", again.session_id: "LIVE"}
