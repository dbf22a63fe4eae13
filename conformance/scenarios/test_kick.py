"""Removing one participant: that one is `kicked`, everyone else carries on.

RealtimeKit: "participant.kick() removes one participant. Others see participantLeft … and
the kicked client gets roomLeft with state === kicked."
"""

from __future__ import annotations

import contextlib

import pytest

from conformance import must
from conformance.errors import UnexpectedResponse
from conformance.scenarios import steps

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement


@requirement("KICK-01")
async def test_kicking_one_participant_leaves_the_others_and_the_session_alone(scenario):
    meeting = await scenario.meeting()
    host, target, bystander = await scenario.join_many(meeting["id"], "host", "participant", "participant")

    response = await scenario.api.kick(meeting["id"], participant_ids=[target.seat.id])
    must.status(response, 200, "kick one participant out of the live session")

    await steps.room_left(target, "kicked", scenario, "REST kick")
    for other in (host, bystander):
        with contextlib.suppress(UnexpectedResponse):
            await steps.told_left(other, target, scenario, "REST kick")
    await steps.stays_in_room(scenario, [host, bystander], "another participant was kicked")
    live = await steps.active_session(scenario, meeting["id"], "the session is still live after one kick")
    must.equal(live.get("live_participants"), 2, "live_participants after kicking one of three")
