"""Who may end or kick: the `kick_participant` preset permission, API token scopes, tenants.

RealtimeKit: "If the participant does not have the required permission, kickAll() throws a
ClientError with error code 1201." API tokens need "Realtime Admin" or "Realtime".
"""

from __future__ import annotations

import pytest

from conformance import must
from conformance.drivers.base import ClientError
from conformance.scenarios import steps

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement


async def refused_with_1201(action, what: str) -> None:
    try:
        await action
    except ClientError as error:
        must.equal(error.code, 1201, f"ClientError code for {what} without kick_participant")
        return
    raise AssertionError(
        f"{what} without the kick_participant permission succeeded; it must fail with ClientError 1201"
    )


@requirement("PERM-01")
async def test_kick_all_without_permission_fails_with_1201_and_changes_nothing(scenario):
    meeting = await scenario.meeting()
    people = await scenario.join_many(meeting["id"], "host", "participant", "participant")
    caller = people[1]

    await refused_with_1201(caller.kick_all(), "kickAll()")

    await steps.stays_in_room(scenario, people, "a refused kickAll()")
    live = await steps.active_session(scenario, meeting["id"], "the session is still live after a refused kickAll()")
    must.equal(live.get("status"), "LIVE", "session status after a refused kickAll()")
    must.equal(live.get("live_participants"), 3, "live_participants after a refused kickAll()")


@requirement("PERM-01", "END-08")
async def test_a_refused_kick_all_delivers_no_meeting_ended(scenario):
    """PERM-01's webhook half, run only where webhooks are claimed."""
    _, channel = await scenario.webhook(["meeting.ended"])
    meeting = await scenario.meeting()
    people = await scenario.join_many(meeting["id"], "host", "participant")

    await refused_with_1201(people[1].kick_all(), "kickAll()")
    await steps.no_delivery(scenario, channel, "meeting.ended", "meeting.ended after a refused kickAll()")


@requirement("PERM-02")
async def test_the_client_permission_flag_mirrors_the_preset(scenario):
    meeting = await scenario.meeting()
    host, participant = await scenario.join_many(meeting["id"], "host", "participant")

    must.equal(
        host.permissions.get("kickParticipant"),
        True,
        "permissions.kickParticipant of a participant whose preset grants kick_participant",
    )
    must.equal(
        participant.permissions.get("kickParticipant"),
        False,
        "permissions.kickParticipant of a participant whose preset lacks kick_participant",
    )


@requirement("PERM-03")
async def test_kick_without_permission_fails_with_1201_and_changes_nothing(scenario):
    meeting = await scenario.meeting()
    host, caller = await scenario.join_many(meeting["id"], "host", "participant")

    await refused_with_1201(caller.kick(host.peer_id), "kick()")

    await steps.stays_in_room(scenario, [host], "a refused kick()")
    live = await steps.active_session(scenario, meeting["id"], "the session after a refused kick()")
    must.equal(live.get("live_participants"), 2, "live_participants after a refused kick()")


# PERM-04 (MUST) asks for a refusal without effect; which of 401/403 is PERM-06's (SHOULD).
REFUSED = (401, 403)


@requirement("PERM-04")
async def test_requests_without_credentials_are_refused_and_have_no_effect(scenario):
    meeting = await scenario.meeting()
    before = await steps.read_meeting(scenario, meeting["id"], "read the meeting")
    api = scenario.api

    must.status(await api.get_meeting(meeting["id"], auth="none"), REFUSED, "read a meeting without credentials")
    must.status(
        await api.update_meeting(meeting["id"], auth="none", status="INACTIVE"),
        REFUSED,
        "deactivate a meeting without credentials",
    )
    must.status(
        await api.create_meeting(auth="none", title=f"{scenario.config.run_id} must-not-exist"),
        REFUSED,
        "create a meeting without credentials",
    )
    await steps.meeting_unchanged(scenario, before, "after an unauthenticated PATCH")


@requirement("PERM-04")
async def test_tokens_without_the_realtime_permission_are_refused_and_have_no_effect(scenario):
    meeting = await scenario.meeting()
    before = await steps.read_meeting(scenario, meeting["id"], "read the meeting")
    api = scenario.api

    must.status(
        await api.get_meeting(meeting["id"], auth="no_permission"),
        REFUSED,
        "read a meeting with a token that lacks the Realtime permission",
    )
    must.status(
        await api.update_meeting(meeting["id"], auth="no_permission", status="INACTIVE"),
        REFUSED,
        "deactivate a meeting with a token that lacks the Realtime permission",
    )
    must.status(
        await api.update_meeting(meeting["id"], auth="readonly", status="INACTIVE"),
        REFUSED,
        "deactivate a meeting with a read-only token",
    )
    await steps.meeting_unchanged(scenario, before, "after refused PATCHes")


@requirement("PERM-06")
async def test_no_credentials_is_401_and_no_permission_is_403(scenario):
    meeting = await scenario.meeting()
    api = scenario.api

    must.status(await api.get_meeting(meeting["id"], auth="none"), 401, "read a meeting without credentials")
    must.status(
        await api.get_meeting(meeting["id"], auth="no_permission"),
        403,
        "read a meeting with a token that lacks the Realtime permission",
    )
    must.status(
        await api.update_meeting(meeting["id"], auth="readonly", status="INACTIVE"),
        403,
        "deactivate a meeting with a read-only token",
    )


@requirement("PERM-05")
async def test_another_account_can_neither_read_nor_change_this_accounts_meetings(scenario):
    meeting = await scenario.meeting()
    before = await steps.read_meeting(scenario, meeting["id"], "read the meeting")
    api = scenario.api
    mine = f"{api.app_path()}/meetings/{meeting['id']}"
    theirs = f"{api.app_path('other')}/meetings/{meeting['id']}"

    for path, where in ((mine, "this account's path"), (theirs, "its own account's path")):
        read = await api.request("GET", path, auth="other")
        must.status(read, range(400, 500), f"another account's token reading this meeting through {where}")
        must.that(
            "data" not in (read.json or {}) or not read.json.get("success"),
            f"another account's token got data through {where}",
            read,
        )
        change = await api.request("PATCH", path, json={"status": "INACTIVE"}, auth="other")
        must.status(change, range(400, 500), f"another account's token deactivating this meeting through {where}")
        end = await api.request("POST", f"{path}/active-session/kick-all", auth="other")
        must.status(end, range(400, 500), f"another account's token ending this meeting's session through {where}")
    await steps.meeting_unchanged(scenario, before, "after another account's PATCH")
