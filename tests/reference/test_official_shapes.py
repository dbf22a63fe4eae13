"""The reference answers the way Cloudflare's own description shapes things: PUT on
meetings, presets and participants (`replace_meeting`, `put-presets-preset_id`,
`replace_participant`), tokens on a participant edit, whole presets, and no nulls where
Cloudflare's types are not nullable."""

from __future__ import annotations

from typing import Any

from conformance.preset_body import preset_body

from .conftest import HOST, PARTICIPANT, Api, Room, assert_error


async def test_a_created_meeting_has_no_nulls_and_null_means_the_default(api: Api) -> None:
    meeting = await api.create_meeting(title=None, record_on_start=None, live_stream_on_start=None)
    assert None not in meeting.values()
    assert "title" not in meeting and "recording_config" not in meeting
    assert meeting["record_on_start"] is False and meeting["live_stream_on_start"] is False


async def test_a_storage_config_secret_is_stored_but_never_answered(api: Api) -> None:
    storage = {"type": "aws", "bucket": "b", "region": "us-east-1", "access_key": "AK", "secret": "S"}
    meeting = await api.create_meeting(recording_config={"storage_config": storage})
    for answer in (meeting, await api.meeting(meeting["id"])):
        answered = answer["recording_config"]["storage_config"]
        assert answered == {"type": "aws", "bucket": "b", "region": "us-east-1"}


async def test_put_meeting_replaces_every_field_and_keeps_id_and_status(api: Api) -> None:
    meeting = await api.create_meeting(title="before", persist_chat=True)
    await api.data("PATCH", f"/meetings/{meeting['id']}", json={"status": "INACTIVE"})
    replaced = await api.data("PUT", f"/meetings/{meeting['id']}", json={"record_on_start": True})
    assert replaced["id"] == meeting["id"] and replaced["created_at"] == meeting["created_at"]
    assert replaced["status"] == "INACTIVE"
    assert replaced["record_on_start"] is True
    assert replaced["persist_chat"] is False and "title" not in replaced  # left out: reset
    assert await api.meeting(meeting["id"]) == replaced


async def test_editing_a_participant_answers_a_token_and_the_old_one_still_works(api: Api, room: Room) -> None:
    doc = await room.register("ed")
    edited = await api.data("PATCH", f"/meetings/{room.id}/participants/{doc['id']}", json={"name": "Ed"})
    assert edited["token"] and edited["name"] == "Ed"
    for token in (doc["token"], edited["token"]):
        participant = await room.driver.participant(f"ed-{token[-4:]}")
        await participant.join(token)
        await participant.leave()


async def test_put_participant_replaces_it(api: Api, room: Room) -> None:
    doc = await room.register("old-id")
    await room.register("taken")
    path = f"/meetings/{room.id}/participants/{doc['id']}"
    body = {"custom_participant_id": "new-id", "preset_name": HOST}
    replaced = await api.data("PUT", path, json=body)
    assert replaced["id"] == doc["id"] and replaced["token"]
    assert replaced["custom_participant_id"] == "new-id" and replaced["preset_name"] == HOST
    assert "name" not in replaced or replaced["name"] is None  # left out: cleared
    assert_error(await api.put(path, json={"custom_participant_id": "taken", "preset_name": PARTICIPANT}), 409)
    assert_error(await api.put(path, json={"custom_participant_id": "x", "preset_name": "nope"}), 409)


def contains(whole: Any, part: Any) -> bool:
    """Every value of `part` is in `whole` (objects may hold more: the defaults)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and contains(whole[k], v) for k, v in part.items())
    return bool(whole == part)


async def test_presets_are_whole_and_put_replaces_them(api: Api) -> None:
    body = preset_body("whole", {"kick_participant": True})
    created = await api.data("POST", "/presets", 201, json=body)
    assert contains(created, body)
    path = f"/presets/{created['id']}"
    body = preset_body("whole-2", {"can_record": True}, config={"view_type": "WEBINAR"})
    replaced = await api.data("PUT", path, json=body)
    assert replaced["id"] == created["id"] and contains(replaced, body)
    assert await api.data("GET", path) == replaced
    # a part given to PATCH is stored whole: what it leaves out takes the reference's defaults
    patched = await api.data("PATCH", path, json={"ui": {"design_tokens": {"theme": "light"}}})
    assert patched["ui"]["design_tokens"]["theme"] == "light" and patched["ui"]["design_tokens"]["colors"]


async def test_recordings_filter_by_several_statuses(api: Api, room: Room) -> None:
    await room.join("host", HOST)
    recording = await api.data("POST", "/recordings", 200, json={"meeting_id": room.id})
    assert "stop_reason" not in recording and recording["download_url_expiry"] is None  # required, nullable
    # Cloudflare's `status` is an array sent as one comma-separated value (explode: false)
    for statuses, found in (("PAUSED,RECORDING", [recording["id"]]), ("UPLOADED,ERRORED", []), ("", [recording["id"]])):
        listed = await api.data("GET", "/recordings", params={"meeting_id": room.id, "status": statuses})
        assert [r["id"] for r in listed] == found, statuses
