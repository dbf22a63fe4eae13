"""Presence: the others in a session see participants come and go.

RealtimeKit, "Remote participant": `meeting.participants.joined` holds everyone currently in
the meeting and emits `participantJoined` and `participantLeft` (JOIN-01; a leave is LEAVE-02's).
A connection that drops without a leave is LEAVE-05 (a SHOULD: RealtimeKit does not say when
such a participant leaves the others' list).
"""

from __future__ import annotations

import pytest

from conformance.scenarios import steps

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement


@requirement("JOIN-01")
async def test_the_others_are_told_who_joined(scenario):
    meeting = await scenario.meeting()
    host, first = await scenario.join_many(meeting["id"], "host", "participant")
    late = await scenario.join(meeting["id"], "participant")

    for observer in (host, first):
        await observer.wait_for(
            "participantJoined",
            lambda e: (e.get("participant") or {}).get("id") == late.peer_id,
            timeout=scenario.timeout,
            what=f"participantJoined for {late.label}",
        )


@requirement("LEAVE-05")
async def test_the_others_are_told_when_a_connection_drops(scenario):
    meeting = await scenario.meeting()
    host, dropped = await scenario.join_many(meeting["id"], "host", "participant")

    await dropped.close()  # the socket goes away without a leave

    await steps.told_left(host, dropped, scenario, "a dropped connection")
