"""Bad input never yields a 5xx (or a server error in the log), over REST and WebSocket.

API-01 (no input produces a 5xx), API-02 (error envelope), and the realtime protocol's
"malformed frame" rule. The autouse `no_server_errors` fixture also fails any test here
that made the server log an unhandled exception.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from conformance.drivers.base import ClientError
from conformance.preset_body import preset_body
from conformance.reference.server import ThreadedServer

from .conftest import HOST, WAIT, Api, Room, assert_error, close_code

JSON = {"content-type": "application/json"}


async def meeting_count(api: Api) -> int:
    response = await api.get("/meetings", params={"per_page": 1})
    return response.json()["paging"]["total_count"]


# -- REST ------------------------------------------------------------------------------------

NOT_JSON = {
    "truncated": b'{"title": "x"',
    "single-quotes": b"{'title': 'x'}",
    "trailing-comma": b'{"title": "x",}',
    "invalid-utf8": b'{"title": "\xff"}',
    "huge-integer": b'{"title": 1' + b"1" * 5000 + b"}",
    "nan": b'{"session_keep_alive_time_in_secs": NaN}',
    "infinity": b'{"recording_config": {"max": Infinity}}',
    "minus-infinity": b'{"ai_config": {"min": -Infinity}}',
    "overflowing-float": b'{"recording_config": {"max": 1e999}}',
    "lone-surrogate": b'{"title": "\\ud800"}',
    "lone-surrogate-key": b'{"recording_config": {"\\udfff": 1}}',
    "deeply-nested-array": b"[" * 100_000 + b"]" * 100_000,
    "deeply-nested-object": b'{"ai_config": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
}


@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
async def test_bodies_that_are_not_acceptable_json_are_400(api: Api, body: bytes) -> None:
    before = await meeting_count(api)
    response = await api.post("/meetings", content=body, headers=JSON)
    assert_error(response, 400)
    assert await meeting_count(api) == before


async def test_nesting_just_below_the_parser_limit_is_not_a_5xx(api: Api) -> None:
    # Depths around where the JSON parser itself gives up: parsing may succeed and a later
    # step (storing, answering) run out of stack instead.
    before = await meeting_count(api)
    for depth in range(900, 1000, 10):
        body = b'{"ai_config": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
        response = await api.post("/meetings", content=body, headers=JSON)
        assert_error(response, 400)
    assert await meeting_count(api) == before


WRONG_TYPES = [
    ("POST", "/meetings", {"title": 42}),
    ("POST", "/meetings", {"record_on_start": "yes"}),
    ("POST", "/meetings", {"session_keep_alive_time_in_secs": 30}),
    ("POST", "/meetings", ["title"]),
    ("POST", "/meetings", None),
    ("POST", "/meetings/{meeting}/participants", {"preset_name": "group_call_host"}),
    ("POST", "/meetings/{meeting}/participants", {"custom_participant_id": 5, "preset_name": "group_call_host"}),
    (
        "POST",
        "/meetings/{meeting}/participants",
        {"custom_participant_id": "x", "preset_name": "group_call_host", "picture": "not a uri"},
    ),
    ("POST", "/meetings/{meeting}/active-session/kick", {}),
    ("POST", "/meetings/{meeting}/active-session/kick", {"participant_ids": "abc"}),
    ("POST", "/meetings/{meeting}/active-session/kick", {"participant_ids": [1, 2]}),
    ("POST", "/presets", {"name": "p", "permissions": {}}),
    ("POST", "/presets", {k: v for k, v in preset_body("p").items() if k != "ui"}),  # Cloudflare requires all four
    ("POST", "/presets", preset_body("p", {"kick_participant": "yes"})),
    ("POST", "/webhooks", {"name": "w", "url": "http://example.com/", "events": ["meeting.exploded"]}),
    ("POST", "/recordings", {"meeting_id": "not-a-uuid"}),
    ("POST", "/recordings", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), WRONG_TYPES, ids=lambda v: v if isinstance(v, str) else json.dumps(v)[:60]
)
async def test_wrong_types_and_missing_fields_are_400(api: Api, room: Room, method: str, path: str, body: Any) -> None:
    before = await meeting_count(api)
    response = await api.request(method, path.format(meeting=room.id), json=body)
    assert_error(response, 400)
    assert await meeting_count(api) == before
    assert (await api.data("GET", f"/meetings/{room.id}/participants")) == []


async def test_unknown_fields_are_ignored(api: Api, room: Room) -> None:
    extra = {"surprise": [1, {"nested": None}], "id": "00000000-0000-4000-8000-000000000000"}
    meeting = await api.data("POST", "/meetings", 201, json={"title": "t", **extra})
    assert "surprise" not in meeting and meeting["id"] != extra["id"]
    participant = await api.data(
        "POST",
        f"/meetings/{room.id}/participants",
        201,
        json={
            "custom_participant_id": "x",
            "preset_name": "group_call_host",
            **extra,
        },
    )
    assert "surprise" not in participant
    webhook = await api.create_webhook("http://127.0.0.1:9/", ["meeting.ended"], enabled=False)
    patched = await api.data("PATCH", f"/webhooks/{webhook['id']}", json={"surprise": True})
    assert "surprise" not in patched


# Only the bounds Cloudflare's description states (no length limits on titles or names).
BOUNDARIES = [
    ("/meetings", {"session_keep_alive_time_in_secs": 60}, {"session_keep_alive_time_in_secs": 59.9}),
    ("/meetings", {"session_keep_alive_time_in_secs": 600}, {"session_keep_alive_time_in_secs": 600.5}),
    (
        "/presets",
        preset_body("fps", config={"media": {"video": {"frame_rate": 30}}}),
        preset_body("fps-2", config={"media": {"video": {"frame_rate": 31}}}),
    ),
]


@pytest.mark.parametrize(("path", "at_limit", "over_limit"), BOUNDARIES, ids=lambda v: str(v)[:30])
async def test_values_at_a_limit_are_accepted_and_past_it_are_400(
    api: Api, room: Room, path: str, at_limit: dict[str, Any], over_limit: dict[str, Any]
) -> None:
    url = path.format(meeting=room.id)
    created = await api.post(url, json=at_limit)
    assert created.status_code == 201, created.text
    for key, value in at_limit.items():
        if not isinstance(value, dict):
            assert created.json()["data"].get(key, value) == value
    assert_error(await api.post(url, json=over_limit), 400)


async def test_kick_all_ignores_a_body(api: Api, room: Room) -> None:
    await room.join("alice")
    response = await api.post(f"/meetings/{room.id}/active-session/kick-all", content=b"{not json", headers=JSON)
    assert response.status_code == 200, response.text


UNKNOWN = str(uuid.uuid4())
ID_PATHS = [
    ("GET", "/meetings/{id}"),
    ("PATCH", "/meetings/{id}"),
    ("GET", "/meetings/{id}/participants"),
    ("POST", "/meetings/{id}/participants"),
    ("GET", "/meetings/{meeting}/participants/{id}"),
    ("DELETE", "/meetings/{meeting}/participants/{id}"),
    ("POST", "/meetings/{meeting}/participants/{id}/token"),
    ("GET", "/meetings/{id}/active-session"),
    ("POST", "/meetings/{id}/active-session/kick-all"),
    ("POST", "/meetings/{id}/active-session/kick"),
    ("GET", "/sessions/{id}"),
    ("GET", "/sessions/{id}/participants"),
    ("GET", "/recordings/{id}"),
    ("PUT", "/recordings/{id}"),
    ("GET", "/recordings/active-recording/{id}"),
    ("GET", "/presets/{id}"),
    ("PATCH", "/presets/{id}"),
    ("DELETE", "/presets/{id}"),
    ("GET", "/webhooks/{id}"),
    ("PATCH", "/webhooks/{id}"),
    ("PUT", "/webhooks/{id}"),
    ("DELETE", "/webhooks/{id}"),
]
VALID_BODIES = {
    "PATCH": {"title": "t"},
    "PUT": {"action": "stop"},
    "POST": {
        "custom_participant_id": "x",
        "preset_name": "group_call_host",
        "participant_ids": ["x"],
        "custom_participant_ids": [],
    },
}


BAD_IDS = [UNKNOWN, "not-a-uuid", "1", UNKNOWN.replace("-", ""), "{" + UNKNOWN + "}", "%00", "x" * 2000]


@pytest.mark.parametrize(("method", "path"), ID_PATHS, ids=[f"{m} {p}" for m, p in ID_PATHS])
async def test_unknown_or_malformed_ids_are_404(api: Api, room: Room, method: str, path: str) -> None:
    body = VALID_BODIES.get(method)
    if path.startswith("/webhooks") and method == "PUT":
        body = {"name": "w", "url": "http://127.0.0.1:9/", "events": ["meeting.ended"]}
    for bad_id in BAD_IDS:
        response = await api.request(method, path.format(id=bad_id, meeting=room.id), json=body)
        error = assert_error(response, 404)
        assert error["message"] != "no such endpoint", bad_id


async def test_an_oversized_body_is_refused(api: Api) -> None:
    before = await meeting_count(api)
    body = json.dumps({"title": "t", "recording_config": {"pad": "x" * (1024 * 1024 + 10)}}).encode()
    response = await api.post("/meetings", content=body, headers=JSON)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert await meeting_count(api) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/meetings"),
        ("PATCH", "/meetings/{meeting}"),
        ("POST", "/meetings/{meeting}/participants"),
        ("POST", "/meetings/{meeting}/active-session/kick"),
        ("POST", "/presets"),
        ("POST", "/webhooks"),
        ("POST", "/recordings"),
    ],
)
async def test_an_empty_body_where_one_is_required_is_400(api: Api, room: Room, method: str, path: str) -> None:
    before = await api.meeting(room.id)
    for empty in (b"", b"   "):
        response = await api.request(method, path.format(meeting=room.id), content=empty, headers=JSON)
        assert_error(response, 400)
    assert await api.meeting(room.id) == before


@pytest.mark.parametrize(
    "query",
    [
        "/meetings?per_page=ten",
        "/meetings?per_page=-1",
        "/meetings?status=GONE",
        "/meetings?start_time=yesterday",
        "/sessions?associated_id=not-a-uuid",
        "/sessions?sort_order=sideways",
        "/recordings?status=LOST",
    ],
)
async def test_bad_query_parameters_are_400(api: Api, query: str) -> None:
    assert_error(await api.get(query), 400)


@pytest.mark.parametrize(
    "query", ["per_page=1", "per_page=1.0", "per_page=0", "page_no=0", "page_no=1.5", "per_page=1000"]
)
async def test_paging_takes_any_number_cloudflare_allows(api: Api, room: Room, query: str) -> None:
    # Cloudflare: numbers, minimum 0, no maximum. 0 per page reads as the default, page 0 as page 1.
    response = await api.get(f"/meetings?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["paging"]["total_count"] >= 1


async def test_unknown_paths_and_methods(api: Api, room: Room) -> None:
    error = assert_error(await api.get("/nothing-here"), 404)
    assert error["message"] == "no such endpoint"
    assert_error(await api.delete("/meetings"), 405)
    assert_error(await api.put(f"/meetings/{room.id}/active-session", json={}), 405)  # no PUT there, officially either
    assert_error(await api.get(f"{api.origin}/"), 404)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"seconds": "soon"}',
        b'{"seconds": -1}',
        b'{"seconds": 1e999}',
        b'{"seconds": NaN}',
        b"[" * 100_000,
        b'{"minutes": 1}',
    ],
    ids=["empty", "truncated", "array", "text", "negative", "overflow", "nan", "deep", "wrong-key"],
)
async def test_the_test_clock_refuses_bad_bodies_with_400(api: Api, body: bytes) -> None:
    before = await api.now()
    response = await api.post(f"{api.origin}/_conformance/clock/advance", content=body, headers=JSON)
    assert_error(response, 400)
    assert (await api.now()) - before < 60  # real time passed, nothing more


# -- WebSocket -------------------------------------------------------------------------------


async def open_ws(srv: ThreadedServer) -> ClientConnection:
    assert srv.endpoints is not None
    return await connect(srv.endpoints.realtime_url, max_size=None)


async def next_frame(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


async def server_still_serves(api: Api, room: Room, label: str) -> None:
    assert (await api.get("/meetings", params={"per_page": 1})).status_code == 200
    p = await room.join(label)
    assert p.room_state == "joined"


GARBAGE: list[str | bytes] = [
    "not json",
    b"\x00\xff\x10 binary",
    "[1, 2, 3]",
    '"a string"',
    "42",
    "null",
    '{"no_type": 1}',
    '{"type": 7}',
    "x" * 70_000,  # over the server's frame limit
    "[" * 60_000,  # nesting the parser cannot follow
    "[" * 100 + "]" * 100,  # nesting over the server's depth limit
    '{"type": "join", "id": "j", "token": "\\ud800"}',  # a lone surrogate: not Unicode
    '{"type": "join", "id": "j", "token": NaN}',
]


async def test_garbage_frames_get_error_frames_and_the_connection_stays_usable(api: Api, room: Room) -> None:
    token = (await room.register("garbage"))["token"]
    async with await open_ws(api.srv) as ws:
        for frame in GARBAGE:
            await ws.send(frame)
            answer = await next_frame(ws)
            assert answer["type"] == "error" and answer["code"] == 0, (frame[:20], answer)
            assert answer["reply_to"] is None
        await ws.send(json.dumps({"type": "join", "id": "j", "token": token}))
        joined = await next_frame(ws)
        assert joined["type"] == "roomJoined" and joined["reply_to"] == "j"
        for frame in GARBAGE[:3]:
            await ws.send(frame)
            assert (await next_frame(ws))["code"] == 0
        await ws.send(json.dumps({"type": "dance", "id": "d"}))
        answer = await next_frame(ws)
        assert answer["type"] == "error" and answer["reply_to"] == "d"
        await ws.send(json.dumps({"type": "leave", "id": "bye"}))
        assert await next_frame(ws) == {"type": "ack", "reply_to": "bye"}
        assert (await next_frame(ws))["state"] == "left"


@pytest.mark.parametrize(
    "token",
    [None, "", 123, ["rtkp_x"], "rtkp_unknown", "x" * 10_000],
    ids=["missing", "empty", "number", "list", "unknown", "long"],
)
async def test_joins_with_bad_tokens_are_refused_with_4(api: Api, room: Room, token: Any) -> None:
    async with await open_ws(api.srv) as ws:
        request = {"type": "join", "id": "j"}
        if token is not None:
            request["token"] = token
        await ws.send(json.dumps(request))
        answer = await next_frame(ws)
        assert answer == {**answer, "type": "error", "reply_to": "j", "code": 4}
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), WAIT)
        assert ws.close_code == 4001
    assert await api.sessions_of(room.id) == []
    await server_still_serves(api, room, "after-bad-token")


async def test_driver_join_with_an_unknown_token_is_client_error_4(api: Api, room: Room) -> None:
    p = await room.driver.participant("stranger")
    with pytest.raises(ClientError) as refused:
        await p.join("rtkp_" + "0" * 43)
    assert refused.value.code == 4
    assert await close_code(p) == 4001


async def test_disconnecting_right_after_connecting(api: Api, room: Room) -> None:
    for _ in range(3):
        ws = await open_ws(api.srv)
        await ws.close()
    ws = await open_ws(api.srv)
    ws.transport.abort()  # no close handshake at all
    await server_still_serves(api, room, "after-drops")


@pytest.mark.parametrize("how", ["close", "abort"])
async def test_disconnecting_mid_join(api: Api, room: Room, how: str) -> None:
    observer = await room.join("observer", HOST)
    mark = observer.mark()
    token = (await room.register("dropper"))["token"]
    ws = await open_ws(api.srv)
    await ws.send(json.dumps({"type": "join", "id": "j", "token": token}))
    if how == "close":
        await ws.close()
    else:
        ws.transport.abort()

    joined = await observer.wait_for("participantJoined", since=mark)
    left = await observer.wait_for("participantLeft", since=mark)
    assert left["participant"]["id"] == joined["participant"]["id"]
    assert left["reason"] == "disconnected"
    session = await room.session()
    assert session["live_participants"] == 1 and session["status"] == "LIVE"
    await server_still_serves(api, room, "after-mid-join")


async def test_a_frame_over_the_size_limit_closes_only_that_connection(api: Api, room: Room) -> None:
    observer = await room.join("observer")
    ws = await open_ws(api.srv)
    await ws.send("x" * (1024 * 1024 + 1))
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), WAIT)
    assert ws.close_code == 1009  # message too big
    assert observer.room_state == "joined"
    await server_still_serves(api, room, "after-oversized")
