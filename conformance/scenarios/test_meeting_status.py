"""Meeting vs session: an end does not disable the meeting; INACTIVE does.

RealtimeKit: "Ending a session does not disable the meeting. Participants can join the
meeting again and start a new session. To prevent participants from joining again … set the
meeting status to INACTIVE using the Update a meeting API."
"""

from __future__ import annotations

import pytest

from conformance import must
from conformance.drivers.base import ClientError
from conformance.scenarios import steps

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement


@requirement("MEET-01")
async def test_an_end_leaves_the_meeting_active_and_a_new_join_starts_a_new_session(scenario):
    meeting = await scenario.meeting()
    host, _ = await scenario.join_many(meeting["id"], "host", "participant")
    first_session = host.session_id
    must.status(await scenario.api.kick_all(meeting["id"]), 200, "end the live session")
    await steps.session_ended(scenario, first_session, "kick-all")

    ended = await steps.read_meeting(scenario, meeting["id"], "read the meeting after its session ended")
    if "status" in ended:  # optional in Cloudflare's schema; the join below is the proof either way
        must.equal(ended["status"], "ACTIVE", "meeting status after its session ended")
    newcomer = await scenario.join(meeting["id"], "participant")
    must.that(
        bool(newcomer.session_id) and newcomer.session_id != first_session,
        f"a join after the end must start a new session, got session {newcomer.session_id} (ended: {first_session})",
    )
    live = await steps.active_session(scenario, meeting["id"], "the new session is live")
    must.equal(live.get("id"), newcomer.session_id, "the live session's id")


async def refused_join(scenario, meeting_id: str) -> None:
    """Try to join an INACTIVE meeting: refusing to add the participant (a 4xx) is a refused
    join too; otherwise the join itself must fail with a ClientError."""
    response, custom_id = await scenario.add_participant(meeting_id)
    if 400 <= response.status < 500:
        return  # refused at the door
    seat = scenario.seat_from(response, custom_id, "participant")
    hopeful = await scenario.client()
    try:
        await hopeful.join(seat.token)
    except ClientError:
        return  # refused, as it must be
    raise AssertionError("a participant joined an INACTIVE meeting")


@requirement("MEET-02")
async def test_an_inactive_meeting_refuses_joins_until_it_is_active_again(scenario):
    meeting = await scenario.meeting()
    response = await scenario.api.update_meeting(meeting["id"], status="INACTIVE")
    answered = must.success_data(must.status(response, 200, "deactivate the meeting"), "PATCH")
    if isinstance(answered, dict) and "status" in answered:  # optional in Cloudflare's meeting schema
        must.equal(answered["status"], "INACTIVE", "status in the PATCH answer")

    await refused_join(scenario, meeting["id"])
    await steps.no_active_session(scenario, meeting["id"], "no session starts in an INACTIVE meeting")

    must.status(await scenario.api.update_meeting(meeting["id"], status="ACTIVE"), 200, "reactivate the meeting")
    welcome = await scenario.join(meeting["id"], "participant")
    must.that(
        welcome.room_state == "joined", f"a join after reactivation must succeed, state is {welcome.room_state!r}"
    )


@requirement("MEET-03")
async def test_an_invalid_patch_is_refused_and_changes_nothing(scenario):
    meeting = await scenario.meeting()
    before = await steps.read_meeting(scenario, meeting["id"], "read the meeting")
    for body, what in (
        ({"status": "PAUSED"}, "an unknown status"),
        ({"status": 1}, "a status that is not a string"),
        ({"session_keep_alive_time_in_secs": "soon"}, "a keep-alive that is not a number"),
    ):
        # Refused is what Cloudflare's schema backs; 400 and its envelope are API-03's (SHOULD).
        response = await scenario.api.update_meeting(meeting["id"], **body)
        must.status(response, range(400, 500), f"PATCH a meeting with {what}")
    await steps.meeting_unchanged(scenario, before, "after refused PATCHes")
