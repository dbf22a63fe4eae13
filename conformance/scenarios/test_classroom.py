"""Classroom rules (legacy virtual classroom): host grace timer, rejoin, restart.

"If the session host leaves the room, then an invisible timer is started. If the host does
not return within 15 minutes, then the session is automatically ended for all session
participants." … "You can easily rejoin the session" … "As an instructor, you can easily
restart the session by clicking Start Session."
"""

from __future__ import annotations

import pytest

from conformance import must
from conformance.scenarios import steps

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement


def grace(scenario) -> float:
    return scenario.config.time.host_grace_seconds


@requirement("CLASS-01")
async def test_the_session_ends_when_the_host_does_not_return_in_time(scenario):
    meeting = await scenario.meeting()
    host, student = await scenario.join_many(meeting["id"], "host", "participant")

    await host.leave()
    await scenario.pass_time(grace(scenario) + 1, "the host grace timer")

    await steps.room_left(student, "ended", scenario, "the host grace period ran out")
    await steps.session_ended(scenario, host.session_id, "the host grace period ran out")


@requirement("CLASS-01", "END-08")
async def test_the_host_grace_end_delivers_meeting_ended(scenario):
    """CLASS-01's webhook half, run only where webhooks are claimed."""
    _, channel = await scenario.webhook(["meeting.ended"])
    meeting = await scenario.meeting()
    host, _ = await scenario.join_many(meeting["id"], "host", "participant")

    await host.leave()
    await scenario.pass_time(grace(scenario) + 1, "the host grace timer")

    delivery = await steps.delivery(channel, "meeting.ended", scenario, host.session_id)
    must.that(
        (delivery.json or {}).get("reason") in ("HOST_ENDED_MEETING", "ALL_PARTICIPANTS_LEFT"),
        f"meeting.ended reason must be a documented one, got {(delivery.json or {}).get('reason')!r}",
    )


@requirement("CLASS-02")
async def test_a_host_who_returns_in_time_cancels_the_timer(scenario):
    meeting = await scenario.meeting()
    host, student = await scenario.join_many(meeting["id"], "host", "participant")

    await host.leave()
    await scenario.pass_time(grace(scenario) / 2, "half the host grace period")
    returned = await scenario.join(meeting["id"], "host", seat=host.seat)
    await scenario.pass_time(grace(scenario), "past the original grace deadline")

    await steps.stays_in_room(scenario, [student, returned], "the host came back in time")
    live = await steps.active_session(scenario, meeting["id"], "the session goes on after the host returned")
    must.equal(live.get("id"), returned.session_id, "the live session after the host returned")


@requirement("CLASS-03")
async def test_others_coming_and_going_do_not_move_the_host_timer(scenario):
    meeting = await scenario.meeting()
    host, student, visitor = await scenario.join_many(meeting["id"], "host", "participant", "participant")

    await host.leave()
    await scenario.pass_time(grace(scenario) * 0.6, "part of the host grace period")
    await visitor.leave()
    await scenario.join(meeting["id"], "participant")
    await scenario.pass_time(grace(scenario) * 0.5, "past the original deadline, not past a restarted one")

    await steps.room_left(student, "ended", scenario, "the original host grace deadline passed")


@requirement("CLASS-04")
async def test_a_participant_who_left_can_rejoin_the_same_session(scenario):
    meeting = await scenario.meeting()
    host, student = await scenario.join_many(meeting["id"], "host", "participant")
    session_id = student.session_id

    await student.leave()
    await steps.room_left(student, "left", scenario, "leave()")
    again = await scenario.join(meeting["id"], "participant", seat=student.seat)

    must.equal(again.session_id, session_id, "the session a rejoining participant lands in")
    await steps.still_in_room(host, scenario, "a participant rejoined")


@requirement("CLASS-05")
async def test_after_an_end_the_host_can_start_a_new_session(scenario):
    meeting = await scenario.meeting()
    host, _ = await scenario.join_many(meeting["id"], "host", "participant")
    first = host.session_id

    await host.kick_all()
    await steps.room_left(host, "ended", scenario, "the host ended the session")
    restarted = await scenario.join(meeting["id"], "host", seat=host.seat)

    must.that(
        bool(restarted.session_id) and restarted.session_id != first,
        f"the host's join after the end must start a new session, got {restarted.session_id} (ended: {first})",
    )
