"""Requests made by participants over the realtime protocol: kickAll, kick, and 1201.

END-05, PERM-01/02/03, plus the other client error codes of openapi/realtime-protocol.md.
"""

from __future__ import annotations

import pytest

from conformance.drivers.base import ClientError
from conformance.preset_body import preset_body

from .conftest import HOST, PARTICIPANT, Api, Receiver, Room, assert_error, close_code, settle


async def test_kick_participant_permission_follows_the_preset(api: Api, room: Room) -> None:
    custom = await api.data(
        "POST",
        "/presets",
        201,
        json=preset_body("custom-moderator", {"kick_participant": True}),
    )
    assert custom["permissions"]["kick_participant"] is True
    host = await room.join("host", HOST)
    plain = await room.join("plain", PARTICIPANT)
    moderator = await room.join("moderator", "custom-moderator")

    assert host.permissions["kickParticipant"] is True
    assert moderator.permissions["kickParticipant"] is True
    assert plain.permissions["kickParticipant"] is False


async def test_client_kick_all_by_a_host_ends_the_session(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("client-end"), ["meeting.ended"])
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    bob = await room.join("bob")
    session_id = host.session_id

    ack = await host.kick_all()

    assert ack["type"] == "ack"
    assert ack["kicked_participants_count"] == 3
    for p in (host, alice, bob):
        assert (await p.wait_for("roomLeft"))["state"] == "ended"
        assert await close_code(p) == 1000
        assert p.received("participantLeft") == []
    session = await api.session(session_id)
    assert session["status"] == "ENDED" and session["ended_at"]
    assert_error(await api.active_session(room.id), 404)
    (ended,) = await receiver.wait("client-end", "meeting.ended", room.id)
    assert ended.json["reason"] == "HOST_ENDED_MEETING"
    assert ended.json["meeting"]["sessionId"] == session_id


async def test_client_kick_all_without_permission_is_1201_and_changes_nothing(
    api: Api, room: Room, receiver: Receiver
) -> None:
    await api.create_webhook(receiver.url("no-end"), ["meeting.ended", "meeting.participantLeft"])
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    bob = await room.join("bob")
    before = await room.session()

    with pytest.raises(ClientError) as refused:
        await alice.kick_all()

    assert refused.value.code == 1201
    await settle(api.srv)
    for p in (host, alice, bob):
        assert p.room_state == "joined"
        assert p.received("roomLeft") == []
    after = await room.session()
    assert after["id"] == before["id"]
    assert after["status"] == "LIVE"
    assert after["live_participants"] == 3
    # Barrier: bob's participantLeft goes out on the same webhook after anything emitted
    # earlier, so a meeting.ended from the refused kickAll would already be here.
    await bob.leave()
    await receiver.wait("no-end", "meeting.participantLeft", room.id)
    assert receiver.on("no-end", "meeting.ended", room.id) == []


async def test_client_kick_without_permission_is_1201_and_changes_nothing(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")

    with pytest.raises(ClientError) as refused:
        await alice.kick(str(host.peer_id))

    assert refused.value.code == 1201
    await settle(api.srv)
    assert host.room_state == "joined" and alice.room_state == "joined"
    assert host.received("roomLeft") == [] and host.received("participantLeft") == []
    assert (await room.session())["live_participants"] == 2
    await alice.leave()  # the refused participant is still a working member of the room
    assert (await alice.wait_for("roomLeft"))["state"] == "left"


async def test_client_kick_by_a_host_removes_only_the_target(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    bob = await room.join("bob")
    mark = bob.mark()

    await host.kick(str(alice.peer_id))

    assert (await alice.wait_for("roomLeft"))["state"] == "kicked"
    told = await bob.wait_for("participantLeft", since=mark)
    assert told["participant"]["id"] == alice.peer_id and told["reason"] == "kicked"
    assert host.room_state == "joined" and bob.room_state == "joined"
    session = await room.session()
    assert session["status"] == "LIVE" and session["live_participants"] == 2


@pytest.mark.parametrize(("target", "code"), [("self", 1203), ("nobody", 1202)])
async def test_client_kick_of_self_or_unknown_peer(api: Api, room: Room, target: str, code: int) -> None:
    host = await room.join("host", HOST)
    peer_id = str(host.peer_id) if target == "self" else "00000000-0000-4000-8000-000000000000"

    with pytest.raises(ClientError) as refused:
        await host.kick(peer_id)

    assert refused.value.code == code
    assert host.room_state == "joined"
    assert (await room.session())["live_participants"] == 1


async def test_requests_before_join_are_1106(api: Api, room: Room) -> None:
    p = await room.driver.participant("early")
    with pytest.raises(ClientError) as refused:
        await p.kick_all()
    assert refused.value.code == 1106
    # the connection is still good for a join
    await p.join((await room.register("early"))["token"])
    assert p.room_state == "joined"


async def test_second_join_on_one_connection_is_1205(api: Api, room: Room) -> None:
    alice = await room.join("alice")
    with pytest.raises(ClientError) as refused:
        await alice.join(room.registered["alice"]["token"])
    assert refused.value.code == 1205
    assert alice.room_state == "joined"
    assert (await room.session())["live_participants"] == 1


@pytest.mark.parametrize("how", ["unknown", "deleted", "refreshed"])
async def test_invalid_participant_token_is_refused_with_4(api: Api, room: Room, how: str) -> None:
    doc = await room.register("ghost")
    token = doc["token"]
    if how == "unknown":
        token = "rtkp_not-a-token"
    elif how == "deleted":
        await api.data("DELETE", f"/meetings/{room.id}/participants/{doc['id']}")
    else:
        fresh = await api.data("POST", f"/meetings/{room.id}/participants/{doc['id']}/token")
        assert fresh["token"] != token
    p = await room.driver.participant("ghost")

    with pytest.raises(ClientError) as refused:
        await p.join(token)

    assert refused.value.code == 4
    assert await close_code(p) == 4001
    assert await api.sessions_of(room.id) == []
