"""Sessions that end by themselves: keep-alive after the last leave, and the classroom host grace.

LEAVE-04, CLASS-01..05. Time moves only through the server's test clock; `api.advance`
returns once every timer that became due has fired, so "nothing ended yet" is checked
right after it without waiting out a window.
"""

from __future__ import annotations

from conformance.drivers.websocket import WebSocketDriver

from .conftest import HOST, Api, Receiver, Room, new_room

GRACE = 900.0
SERVER_SETTINGS = {"host_grace_seconds": GRACE}


# -- keep-alive ------------------------------------------------------------------------------


async def test_session_ends_once_keep_alive_has_passed_after_the_last_leave(
    api: Api, room: Room, receiver: Receiver
) -> None:
    await api.create_webhook(receiver.url("keepalive"), ["meeting.ended"])
    alice = await room.join("alice")
    session_id = str(alice.session_id)
    assert room.meeting["session_keep_alive_time_in_secs"] == 60

    await alice.leave()

    session = await api.session(session_id)
    assert session["status"] == "LIVE" and session["live_participants"] == 0
    await api.advance(57)  # a few seconds of margin for real time passing meanwhile
    assert (await api.session(session_id))["status"] == "LIVE"
    await api.advance(4)
    session = await api.session(session_id)
    assert session["status"] == "ENDED" and session["ended_at"]
    (ended,) = await receiver.wait("keepalive", "meeting.ended", room.id)
    assert ended.json["reason"] == "ALL_PARTICIPANTS_LEFT"
    assert ended.json["meeting"]["sessionId"] == session_id
    assert ended.json["meeting"]["endedAt"]


async def test_keep_alive_follows_the_meeting_setting(api: Api, driver: WebSocketDriver) -> None:
    room = await new_room(api, driver, session_keep_alive_time_in_secs=120)
    alice = await room.join("alice")
    session_id = str(alice.session_id)
    await alice.leave()

    await api.advance(61)
    assert (await api.session(session_id))["status"] == "LIVE"
    await api.advance(60)
    assert (await api.session(session_id))["status"] == "ENDED"


async def test_a_join_inside_the_keep_alive_window_continues_the_session(api: Api, room: Room) -> None:
    alice = await room.join("alice")
    session_id = alice.session_id
    await alice.leave()
    await api.advance(30)

    bob = await room.join("bob")

    assert bob.session_id == session_id
    # the keep-alive timer is gone for good while someone is present
    await api.advance(120)
    assert bob.room_state == "joined"
    session = await api.session(str(session_id))
    assert session["status"] == "LIVE" and session["live_participants"] == 1


# -- classroom host grace --------------------------------------------------------------------


async def test_host_gone_past_the_grace_ends_the_session(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("grace"), ["meeting.ended"])
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    session_id = str(host.session_id)
    await host.leave()

    await api.advance(GRACE - 3)
    assert alice.room_state == "joined" and alice.received("roomLeft") == []
    assert (await api.session(session_id))["status"] == "LIVE"

    await api.advance(4)
    assert (await alice.wait_for("roomLeft"))["state"] == "ended"
    session = await api.session(session_id)
    assert session["status"] == "ENDED" and session["ended_at"]
    (ended,) = await receiver.wait("grace", "meeting.ended", room.id)
    assert ended.json["reason"] == "HOST_ENDED_MEETING"
    assert ended.json["meeting"]["sessionId"] == session_id


async def test_host_returning_within_the_grace_cancels_it(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    session_id = host.session_id
    await host.leave()
    await api.advance(GRACE / 2)

    back = await room.join("host")

    assert back.session_id == session_id
    await api.advance(GRACE)  # well past the first deadline
    assert alice.room_state == "joined" and back.room_state == "joined"
    session = await api.session(str(session_id))
    assert session["status"] == "LIVE" and session["live_participants"] == 2


async def test_others_leaving_or_joining_neither_restarts_nor_cancels_the_grace(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    bob = await room.join("bob")
    session_id = str(host.session_id)
    await host.leave()  # the grace deadline is now + GRACE

    await api.advance(600)
    await bob.leave()
    carol = await room.join("carol")
    bob_again = await room.join("bob")
    assert carol.session_id == bob_again.session_id == session_id

    await api.advance(GRACE - 600 - 3)  # just before the original deadline
    assert (await api.session(session_id))["status"] == "LIVE"
    await api.advance(4)  # just after it (a restarted timer would have 600 s to go)
    for p in (alice, carol, bob_again):
        assert (await p.wait_for("roomLeft"))["state"] == "ended"
    assert (await api.session(session_id))["status"] == "ENDED"


async def test_a_participant_who_left_can_rejoin_the_same_live_session(api: Api, room: Room) -> None:
    await room.join("host", HOST)
    alice = await room.join("alice")
    session_id = alice.session_id
    await alice.leave()

    again = await room.join("alice")

    assert again.session_id == session_id
    assert again.peer_id != alice.peer_id  # a new peer for every join
    assert (await room.session())["live_participants"] == 2


async def test_after_a_grace_end_the_host_starts_a_new_session(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    first = str(host.session_id)
    await host.leave()
    await api.advance(GRACE + 1)
    await alice.wait_for("roomLeft")
    assert (await api.session(first))["status"] == "ENDED"

    back = await room.join("host")

    assert back.session_id and back.session_id != first
    session = await room.session()
    assert session["id"] == back.session_id and session["status"] == "LIVE"
    assert (await api.meeting(room.id))["status"] == "ACTIVE"
