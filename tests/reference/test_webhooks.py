"""Webhook CRUD, signed delivery, filtering, retries, order, and surviving a restart.

WH-01..05, END-08. Retries wait for backoffs of 30 s and more, so they happen only when the
test clock is advanced; the order of deliveries per webhook (one worker, oldest first) lets
a later delivery serve as proof that nothing else is still coming.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from conformance.drivers.websocket import WebSocketDriver
from conformance.reference.app import Credentials
from conformance.reference.server import ThreadedServer

from .conftest import (
    HOST,
    WAIT,
    Api,
    Receiver,
    Room,
    assert_error,
    assert_event_schema,
    on_server,
    signature_valid,
    start_server,
)

SERVER_SETTINGS = {"webhook_timeout_seconds": 0.5}
SESSION_EVENTS = [
    "meeting.started",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "meeting.ended",
]


async def outbox_row(srv: ThreadedServer, delivery_uuid: str | None, until: Callable[[dict], bool]) -> dict:
    """The server's own record of one delivery, once it satisfies `until` (polled, deadline WAIT)."""
    assert srv.reference is not None
    storage = srv.reference.storage

    def read() -> list[dict[str, Any]]:
        return storage.list("outbox", where=lambda r: r["uuid"] == delivery_uuid)

    async with asyncio.timeout(WAIT):
        while True:
            rows = await on_server(srv, read)
            if rows and until(rows[0]):
                return rows[0]
            await asyncio.sleep(0.01)  # re-read the record until the deadline


def failed_once(row: dict) -> bool:
    return row["attempts"] == 1 and row["state"] == "pending"


async def test_webhook_crud_round_trip(api: Api, receiver: Receiver) -> None:
    url = receiver.url("crud")
    created = await api.data(
        "POST",
        "/webhooks",
        201,
        json={
            "name": "crud",
            "url": url,
            "events": ["meeting.started"],
        },
    )
    api.created_webhooks.append(created["id"])
    assert created["enabled"] is True  # the default
    assert created["events"] == ["meeting.started"] and created["url"] == url
    path = f"/webhooks/{created['id']}"
    assert await api.data("GET", path) == created

    patched = await api.data("PATCH", path, json={"enabled": False})
    assert patched["enabled"] is False
    assert {k: patched[k] for k in ("name", "url", "events")} == {k: created[k] for k in ("name", "url", "events")}

    replaced = await api.data(
        "PUT",
        path,
        json={
            "name": "crud-2",
            "url": url + "x",
            "events": ["meeting.ended", "meeting.started"],
        },
    )
    assert replaced["name"] == "crud-2" and replaced["url"] == url + "x"
    assert replaced["events"] == ["meeting.ended", "meeting.started"]
    assert replaced["enabled"] is True  # PUT without enabled: back to the default
    assert replaced["id"] == created["id"]
    listed = await api.data("GET", "/webhooks")
    assert [w for w in listed if w["id"] == created["id"]] == [replaced]

    deleted = await api.data("DELETE", path)
    assert deleted["id"] == created["id"]
    assert_error(await api.get(path), 404)
    assert created["id"] not in [w["id"] for w in await api.data("GET", "/webhooks")]


async def test_delivery_is_signed_and_identified(api: Api, room: Room, receiver: Receiver) -> None:
    webhook = await api.create_webhook(receiver.url("signed"), ["meeting.started"])
    public_pem = await api.public_key()
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")

    await room.join("alice")

    (delivery,) = await receiver.wait("signed", "meeting.started", room.id)
    signature = delivery.headers.get("rtk-signature")
    assert signature_valid(public_pem, delivery.body, signature)
    tampered = delivery.body.replace(b'"meeting.started"', b'"meeting.startet"')
    assert tampered != delivery.body
    assert not signature_valid(public_pem, tampered, signature)
    assert not signature_valid(public_pem, delivery.body + b" ", signature)
    assert delivery.webhook_id == webhook["id"]
    assert delivery.uuid and str(uuid.UUID(delivery.uuid)) == delivery.uuid
    assert delivery.headers["content-type"].startswith("application/json")
    assert_event_schema(delivery)


async def test_only_subscribed_events_are_delivered(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("ended-only"), ["meeting.ended"])
    await api.create_webhook(receiver.url("everything"), SESSION_EVENTS)
    await room.join("host", HOST)
    alice = await room.join("alice")
    await alice.leave()

    assert (await api.kick_all(room.id)).status_code == 200

    everything = await receiver.wait("everything", "meeting.ended", room.id)
    assert len(everything) == 1
    (ended,) = await receiver.wait("ended-only", "meeting.ended", room.id)
    # meeting.ended is the last event of the session and deliveries of one webhook go out
    # in order, so anything else for this meeting would have arrived before it.
    assert [d.event for d in receiver.on("ended-only", meeting=room.id)] == ["meeting.ended"]
    assert ended.uuid != everything[0].uuid  # one delivery per webhook, each its own id
    assert {d.event for d in receiver.on("everything", meeting=room.id)} == set(SESSION_EVENTS)


async def test_a_disabled_webhook_receives_nothing(api: Api, room: Room, receiver: Receiver) -> None:
    assert api.srv.reference is not None
    storage = api.srv.reference.storage
    born_disabled = await api.create_webhook(receiver.url("off"), SESSION_EVENTS, enabled=False)
    switched_off = await api.create_webhook(receiver.url("switched-off"), SESSION_EVENTS)
    await api.data("PATCH", f"/webhooks/{switched_off['id']}", json={"enabled": False})
    await api.create_webhook(receiver.url("control"), SESSION_EVENTS)

    await room.join("alice")
    assert (await api.kick_all(room.id)).status_code == 200

    await receiver.wait("control", "meeting.ended", room.id)
    for webhook in (born_disabled, switched_off):
        rows = await on_server(api.srv, lambda w=webhook: storage.list("outbox", parent=w["id"]))
        assert rows == [], f"a disabled webhook got deliveries queued: {rows}"
    # Short grace for anything already in flight (there is no later event to use as a
    # barrier for a webhook that gets nothing); 0.3 s is plenty on loopback.
    await asyncio.sleep(0.3)
    assert receiver.on("off") == [] and receiver.on("switched-off") == []


async def test_5xx_is_retried_with_the_same_uuid(api: Api, room: Room, receiver: Receiver) -> None:
    public_pem = await api.public_key()
    await api.create_webhook(receiver.url("flaky"), ["meeting.started", "meeting.participantJoined"])
    receiver.script("flaky", 500, 503)

    alice = await room.join("alice")
    (first,) = await receiver.wait("flaky", "meeting.started", room.id)
    assert first.answered == 500
    await outbox_row(api.srv, first.uuid, failed_once)
    assert len(receiver.on("flaky", "meeting.started", room.id)) == 1  # no retry before the backoff

    await api.advance(31)
    _, second = await receiver.wait("flaky", "meeting.started", room.id, count=2)
    assert second.answered == 503
    await outbox_row(api.srv, first.uuid, lambda r: r["attempts"] == 2)
    await api.advance(61)
    attempts = await receiver.wait("flaky", "meeting.started", room.id, count=3)

    assert [d.answered for d in attempts] == [500, 503, 200]
    assert {d.uuid for d in attempts} == {first.uuid}
    assert {d.body for d in attempts} == {first.body}
    assert all(signature_valid(public_pem, d.body, d.headers.get("rtk-signature")) for d in attempts)
    # A 2xx gets no repeat: the next event on this webhook arrives after the accepted one,
    # with nothing in between.
    await room.join("bob")
    await receiver.wait("flaky", "meeting.participantJoined", room.id, count=2)
    assert len(receiver.on("flaky", "meeting.started", room.id)) == 3
    assert alice.room_state == "joined"


async def test_no_answer_is_retried(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("slow"), ["meeting.started"])
    receiver.script("slow", "stall")

    await room.join("alice")
    (first,) = await receiver.wait("slow", "meeting.started", room.id)
    assert first.stalled
    row = await outbox_row(api.srv, first.uuid, failed_once)
    assert row["last_status"] is None  # the server gave up waiting: a timeout, not an answer

    await api.advance(31)
    _, retry = await receiver.wait("slow", "meeting.started", room.id, count=2)
    assert retry.uuid == first.uuid and retry.answered == 200


async def test_4xx_is_not_retried(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("gone"), ["meeting.started", "meeting.participantLeft"])
    receiver.script("gone", 404)

    alice = await room.join("alice")
    (refused,) = await receiver.wait("gone", "meeting.started", room.id)
    assert refused.answered == 404
    await outbox_row(api.srv, refused.uuid, lambda r: r["state"] == "failed")
    await api.advance(30 + 60 + 120 + 10)  # past every backoff

    # Barrier: this webhook's next delivery queues behind any retry of the refused one.
    await alice.leave()
    await receiver.wait("gone", "meeting.participantLeft", room.id)
    assert len(receiver.on("gone", "meeting.started", room.id)) == 1


async def test_disabling_a_webhook_drops_its_pending_retries(api: Api, room: Room, receiver: Receiver) -> None:
    webhook = await api.create_webhook(receiver.url("dropped"), ["meeting.started", "meeting.participantJoined"])
    receiver.script("dropped", 500)
    await room.join("alice")
    (first,) = await receiver.wait("dropped", "meeting.started", room.id)
    await outbox_row(api.srv, first.uuid, failed_once)

    await api.data("PATCH", f"/webhooks/{webhook['id']}", json={"enabled": False})
    await api.advance(31)
    await api.data("PATCH", f"/webhooks/{webhook['id']}", json={"enabled": True})
    await room.join("bob")

    (joined_bob,) = await receiver.wait(
        "dropped",
        "meeting.participantJoined",
        room.id,
    )
    assert joined_bob.json["participant"]["customParticipantId"] == "bob"
    assert len(receiver.on("dropped", "meeting.started", room.id)) == 1


async def test_events_of_one_session_arrive_in_causal_order(api: Api, room: Room, receiver: Receiver) -> None:
    public_pem = await api.public_key()
    await api.create_webhook(receiver.url("order"), SESSION_EVENTS)
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    await alice.leave()
    bob = await room.join("bob")
    session_id = host.session_id

    assert (await api.kick_all(room.id)).status_code == 200

    await receiver.wait("order", "meeting.ended", room.id)
    got = receiver.on("order", meeting=room.id)
    assert [d.event for d in got] == [
        "meeting.started",
        "meeting.participantJoined",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "meeting.participantLeft",
        "meeting.ended",
    ]
    for d in got:
        assert_event_schema(d)
        assert d.json["meeting"]["sessionId"] == session_id
        assert signature_valid(public_pem, d.body, d.headers.get("rtk-signature"))
    position = {(d.event, d.json.get("participant", {}).get("peerId")): i for i, d in enumerate(got)}
    for p in (host, alice, bob):
        joined = position[("meeting.participantJoined", p.peer_id)]
        left = position[("meeting.participantLeft", p.peer_id)]
        assert 0 < joined < left < len(got) - 1
    ended = got[-1].json
    assert ended["reason"] == "HOST_ENDED_MEETING"
    assert ended["meeting"]["id"] == room.id
    assert ended["meeting"]["endedAt"] == (await api.session(str(session_id)))["ended_at"]


async def test_a_pending_delivery_survives_a_restart(tmp_path: Any, receiver: Receiver) -> None:
    db_path = str(tmp_path / "reference.sqlite3")
    credentials = Credentials()
    receiver.always("restart", 500)

    first = start_server(db_path=db_path, credentials=credentials)
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            api = Api(first, client)
            public_pem = await api.public_key()
            webhook = await api.create_webhook(receiver.url("restart"), ["meeting.started"])
            meeting = await api.create_meeting()
            token = (await api.add_participant(meeting["id"]))["token"]
            assert first.endpoints is not None
            async with WebSocketDriver(first.endpoints.realtime_url) as driver:
                await (await driver.participant("alice")).join(token)
                (failed,) = await receiver.wait("restart", "meeting.started", meeting["id"])
                await outbox_row(first, failed.uuid, failed_once)
    finally:
        first.stop()

    receiver.always("restart", 200)
    second = start_server(db_path=db_path, credentials=credentials)
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            api = Api(second, client)
            assert await api.public_key() == public_pem  # the signing key is kept
            await api.advance(31)  # past the first backoff (the clock restarts with the server)
            _, delivered = await receiver.wait("restart", "meeting.started", meeting["id"], count=2)
    finally:
        second.stop()

    assert delivered.answered == 200
    assert delivered.uuid == failed.uuid
    assert delivered.body == failed.body
    assert delivered.webhook_id == webhook["id"]
    assert signature_valid(public_pem, delivered.body, delivered.headers.get("rtk-signature"))
