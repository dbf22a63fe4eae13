"""Recording lifecycle, and an end stopping a running recording (END-04)."""

from __future__ import annotations

from .conftest import HOST, Api, Receiver, Room, assert_error, assert_event_schema


async def start(api: Api, meeting_id: str, **extra: object) -> dict:
    return await api.data("POST", "/recordings", 200, json={"meeting_id": meeting_id, **extra})


async def test_start_needs_a_live_session(api: Api, room: Room) -> None:
    response = await api.post("/recordings", json={"meeting_id": room.id})
    assert_error(response, 409)
    listed = await api.data("GET", "/recordings", params={"meeting_id": room.id})
    assert listed == []


async def test_start_records_the_live_session_and_a_second_start_is_409(api: Api, room: Room) -> None:
    host = await room.join("host", HOST)

    recording = await start(api, room.id)

    assert recording["status"] == "RECORDING"
    assert recording["meeting_id"] == room.id
    assert recording["session_id"] == host.session_id
    assert recording["stopped_time"] is None
    active = await api.data("GET", f"/recordings/active-recording/{room.id}")
    assert active["id"] == recording["id"]

    assert_error(await api.post("/recordings", json={"meeting_id": room.id}), 409)
    running = await api.data("GET", "/recordings", params={"meeting_id": room.id, "status": "RECORDING"})
    assert [r["id"] for r in running] == [recording["id"]]

    second = await start(api, room.id, allow_multiple_recordings=True)
    assert second["id"] != recording["id"] and second["status"] == "RECORDING"


async def test_kick_all_stops_the_recording(api: Api, room: Room, receiver: Receiver) -> None:
    await api.create_webhook(receiver.url("rec"), ["recording.statusUpdate"])
    await room.join("host", HOST)
    recording = await start(api, room.id)
    await receiver.wait("rec", "recording.statusUpdate", room.id)  # the RECORDING update

    assert (await api.kick_all(room.id)).status_code == 200

    stopped = await api.data("GET", f"/recordings/{recording['id']}")
    assert stopped["status"] not in ("RECORDING", "PAUSED", "INVOKED")
    assert stopped["stopped_time"]
    assert stopped["stop_reason"]["reason"] == "ALL_PEERS_LEFT"
    assert_error(await api.get(f"/recordings/active-recording/{room.id}"), 404)
    _, update = await receiver.wait("rec", "recording.statusUpdate", room.id, count=2)
    assert_event_schema(update)
    assert update.json["recording"]["id"] == recording["id"]
    assert update.json["recording"]["status"] == stopped["status"]
    assert update.json["recording"]["stoppedTime"] == stopped["stopped_time"]


async def test_stop_pause_and_resume_through_the_api(api: Api, room: Room) -> None:
    await room.join("host", HOST)
    recording = await start(api, room.id)
    path = f"/recordings/{recording['id']}"

    paused = await api.data("PUT", path, json={"action": "pause"})
    assert paused["status"] == "PAUSED"
    assert_error(await api.put(path, json={"action": "pause"}), 409)
    resumed = await api.data("PUT", path, json={"action": "resume"})
    assert resumed["status"] == "RECORDING"

    stopped = await api.data("PUT", path, json={"action": "stop"})
    assert stopped["status"] == "UPLOADING"
    assert stopped["stopped_time"]
    assert stopped["stop_reason"]["reason"] == "API_CALL"
    assert_error(await api.put(path, json={"action": "stop"}), 409)
    assert_error(await api.put(path, json={"action": "explode"}), 400)
    # the session goes on; only the recording stopped
    assert (await room.session())["status"] == "LIVE"

    await api.advance(2)  # the upload "finishes" one server-clock second after the stop
    uploaded = await api.data("GET", path)
    assert uploaded["status"] == "UPLOADED"
    assert uploaded["download_url"]
