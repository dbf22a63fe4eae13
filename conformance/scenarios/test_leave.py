"""Leaving: only the leaver goes; the session stays live while others remain.

RealtimeKit: "Ending a session is different from leaving a meeting. Leaving disconnects only
the current participant. The session remains active if other participants are still present."
Virtual classroom: "Session participants can leave the session … You can easily rejoin."
"""

from __future__ import annotations

import contextlib

import pytest

from conformance import must
from conformance.errors import UnexpectedResponse
from conformance.scenarios import steps

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement


@requirement("LEAVE-01")
async def test_a_leaver_gets_left_and_the_session_goes_on(scenario):
    meeting = await scenario.meeting()
    host, stayer, leaver = await scenario.join_many(meeting["id"], "host", "participant", "participant")
    before = await steps.active_session(scenario, meeting["id"], "read the live session")

    await leaver.leave()

    await steps.room_left(leaver, "left", scenario, "leave()")
    for other in (host, stayer):
        # The others' participantLeft is LEAVE-02's business; here it is only a barrier.
        with contextlib.suppress(UnexpectedResponse):
            await steps.told_left(other, leaver, scenario, "leave()")
    await steps.stays_in_room(scenario, [host, stayer], "another participant left")
    after = await steps.active_session(scenario, meeting["id"], "the session is still live after one left")
    must.equal(after.get("status"), "LIVE", "session status after one participant left")
    must.equal(after.get("id"), before.get("id"), "session id after one participant left")
    must.equal(
        after.get("live_participants"),
        before.get("live_participants", 3) - 1,
        "live_participants after one of three left",
    )


@requirement("LEAVE-02")
async def test_the_others_are_told_who_left(scenario):
    meeting = await scenario.meeting()
    host, leaver = await scenario.join_many(meeting["id"], "host", "participant")

    await leaver.leave()

    await steps.told_left(host, leaver, scenario, "leave()")


@requirement("LEAVE-02", "WH-01")
async def test_a_leave_delivers_meeting_participant_left(scenario):
    """LEAVE-02's webhook half, run only where webhooks are claimed."""
    _, channel = await scenario.webhook(["meeting.participantLeft"])
    meeting = await scenario.meeting()
    host, leaver = await scenario.join_many(meeting["id"], "host", "participant")

    await leaver.leave()

    delivery = await steps.delivery(channel, "meeting.participantLeft", scenario, host.session_id)
    participant = (delivery.json or {}).get("participant") or {}
    must.equal(
        participant.get("customParticipantId"),
        leaver.seat.custom_participant_id,
        "meeting.participantLeft participant.customParticipantId",
    )
    must.that(bool(participant.get("leftAt")), f"meeting.participantLeft must carry leftAt, got {participant}")


@requirement("LEAVE-03")
async def test_the_host_leaving_does_not_end_the_session(scenario):
    meeting = await scenario.meeting()
    host, participant = await scenario.join_many(meeting["id"], "host", "participant")

    await host.leave()

    await steps.room_left(host, "left", scenario, "the host's leave()")
    with contextlib.suppress(UnexpectedResponse):
        await steps.told_left(participant, host, scenario, "the host's leave()")
    await steps.stays_in_room(scenario, [participant], "the host left")
    live = await steps.active_session(scenario, meeting["id"], "the session is still live after the host left")
    must.equal(live.get("status"), "LIVE", "session status after the host left")


@requirement("LEAVE-04")
async def test_a_join_inside_the_keep_alive_window_continues_the_session(scenario):
    meeting = await scenario.meeting(session_keep_alive_time_in_secs=60)
    first = await scenario.join(meeting["id"], "host")
    session_id = first.session_id

    await first.leave()
    await steps.room_left(first, "left", scenario, "the last participant's leave()")
    # What GET active-session answers inside the window is not promised; only that a join
    # continues the session.

    again = await scenario.join(meeting["id"], "participant")
    must.equal(again.session_id, session_id, "the session a join inside the keep-alive window lands in")


@requirement("LEAVE-04")
async def test_the_session_ends_after_the_keep_alive_time(scenario):
    meeting = await scenario.meeting(session_keep_alive_time_in_secs=60)
    only = await scenario.join(meeting["id"], "host")
    await only.leave()
    await steps.room_left(only, "left", scenario, "the last participant's leave()")

    await scenario.pass_time(61, "the keep-alive timer (session_keep_alive_time_in_secs = 60)")

    await steps.session_ended(scenario, only.session_id, "the keep-alive time passed")


@requirement("LEAVE-04", "END-08")
async def test_the_keep_alive_end_delivers_meeting_ended(scenario):
    """LEAVE-04's webhook half, run only where webhooks are claimed."""
    _, channel = await scenario.webhook(["meeting.ended"])
    meeting = await scenario.meeting(session_keep_alive_time_in_secs=60)
    only = await scenario.join(meeting["id"], "host")
    await only.leave()
    await steps.room_left(only, "left", scenario, "the last participant's leave()")

    await scenario.pass_time(61, "the keep-alive timer (session_keep_alive_time_in_secs = 60)")

    delivery = await steps.delivery(channel, "meeting.ended", scenario, only.session_id)
    must.equal((delivery.json or {}).get("reason"), "ALL_PARTICIPANTS_LEFT", "meeting.ended reason after keep-alive")
