"""Meeting status: INACTIVE refuses joins, ACTIVE allows them again; bad PATCHes change nothing.

MEET-02, MEET-03, and the reference's documented choice for INACTIVE during a live session.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.drivers.base import ClientError

from .conftest import HOST, Api, Room, assert_error, close_code


async def test_inactive_refuses_joins_and_active_allows_them_again(api: Api, room: Room) -> None:
    alice_doc = await room.register("alice")
    patched = await api.data("PATCH", f"/meetings/{room.id}", json={"status": "INACTIVE"})
    assert patched["status"] == "INACTIVE"
    assert (await api.meeting(room.id))["status"] == "INACTIVE"

    refused = await room.driver.participant("alice")
    with pytest.raises(ClientError) as error:
        await refused.join(alice_doc["token"])

    assert error.value.code == 1005
    assert await close_code(refused) == 4003
    assert refused.room_state == "init"
    assert await api.sessions_of(room.id) == []
    assert_error(await api.active_session(room.id), 404)

    assert (await api.data("PATCH", f"/meetings/{room.id}", json={"status": "ACTIVE"}))["status"] == "ACTIVE"
    alice = await room.join("alice")

    assert alice.room_state == "joined"
    session = await room.session()
    assert session["status"] == "LIVE" and session["id"] == alice.session_id


async def test_inactive_during_a_live_session_ends_it(api: Api, room: Room) -> None:
    # Where RealtimeKit is silent the reference chooses: the live session ends.
    host = await room.join("host", HOST)
    alice = await room.join("alice")
    session_id = host.session_id

    await api.data("PATCH", f"/meetings/{room.id}", json={"status": "INACTIVE"})

    for p in (host, alice):
        assert (await p.wait_for("roomLeft"))["state"] == "ended"
    assert (await api.session(str(session_id)))["status"] == "ENDED"
    late = await room.driver.participant("host")
    with pytest.raises(ClientError) as error:
        await late.join(room.registered["host"]["token"])
    assert error.value.code == 1005


@pytest.mark.parametrize(
    "body",
    [
        {"status": "DISABLED"},
        {"status": "inactive"},
        {"status": None},
        {"status": 1},
        {"title": 42},
        {"session_keep_alive_time_in_secs": 5},
        {"session_keep_alive_time_in_secs": "sixty"},
        {"record_on_start": "yes"},
        [{"status": "INACTIVE"}],
        "INACTIVE",
    ],
    ids=lambda b: repr(b)[:40],
)
async def test_invalid_patch_is_400_and_changes_nothing(api: Api, room: Room, body: Any) -> None:
    before = await api.meeting(room.id)

    response = await api.patch(f"/meetings/{room.id}", json=body)

    assert_error(response, 400)
    assert await api.meeting(room.id) == before


async def test_patch_with_a_body_that_is_not_json_is_400(api: Api, room: Room) -> None:
    before = await api.meeting(room.id)
    response = await api.patch(
        f"/meetings/{room.id}", content=b"{status: INACTIVE", headers={"content-type": "application/json"}
    )
    assert_error(response, 400)
    assert await api.meeting(room.id) == before


async def test_patch_changes_only_the_fields_given(api: Api, room: Room) -> None:
    before = await api.meeting(room.id)
    after = await api.data("PATCH", f"/meetings/{room.id}", json={"title": "renamed"})
    assert after["title"] == "renamed"
    assert {k: v for k, v in after.items() if k not in ("title", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("title", "updated_at")
    }
