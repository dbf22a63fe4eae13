"""Steps several scenarios share: small, named for what they do on the target."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from conformance import must
from conformance.drivers.base import Participant
from conformance.errors import CheckNotRunnable
from conformance.harness import Scenario
from conformance.webhook_receiver import Channel, Delivery


async def active_session(scenario: Scenario, meeting_id: str, doing: str) -> dict[str, Any]:
    response = await scenario.api.get_active_session(meeting_id)
    must.status(response, 200, doing)
    return must.success_data(response, doing)


async def read_meeting(scenario: Scenario, meeting_id: str, doing: str) -> dict[str, Any]:
    response = await scenario.api.get_meeting(meeting_id)
    data = must.success_data(must.status(response, 200, doing), doing)
    must.that(isinstance(data, dict), f"{doing}: the meeting is not an object: {response.body_excerpt()}", response)
    return data


async def meeting_unchanged(scenario: Scenario, before: dict[str, Any], doing: str) -> None:
    """The meeting reads as it did before requests that must have had no effect.

    Cloudflare's meeting schema requires only `id`, `created_at` and `updated_at`. Where the
    meeting carries `status` it must be what it was; where it does not, `updated_at` is the
    witness that nothing changed.
    """
    after = await read_meeting(scenario, before["id"], f"read the meeting ({doing})")
    if "status" in before or "status" in after:
        must.equal(after.get("status"), before.get("status"), f"meeting status {doing}")
        return
    if not before.get("updated_at"):
        raise CheckNotRunnable(
            f"{doing}: the meeting carries neither status nor updated_at, so this check cannot tell whether it changed"
        )
    must.equal(after.get("updated_at"), before.get("updated_at"), f"meeting updated_at {doing} (it has no status)")


async def no_active_session(scenario: Scenario, meeting_id: str, doing: str) -> None:
    response = await scenario.api.get_active_session(meeting_id)
    must.status(response, 404, doing)


async def session(scenario: Scenario, session_id: str, doing: str) -> dict[str, Any]:
    response = await scenario.api.get_session(session_id)
    must.status(response, 200, doing)
    return must.success_data(response, doing)


async def session_ended(scenario: Scenario, session_id: str, doing: str) -> dict[str, Any]:
    """Wait (with a deadline) until the sessions API reads the session as ENDED."""

    async def probe() -> dict[str, Any] | None:
        data = await session(scenario, session_id, doing)
        return data if data.get("status") == "ENDED" else None

    # ended_at is END-10's (a SHOULD): Cloudflare's session schema does not require it.
    return await must.eventually(probe, scenario.timeout, f"session {session_id} reading ENDED ({doing})")


async def room_left(participant: Participant, state: str, scenario: Scenario, doing: str) -> None:
    event = await participant.wait_for("roomLeft", timeout=scenario.timeout, what=f"roomLeft ({doing})")
    must.equal(event.get("state"), state, f"{participant.label}: roomLeft state after {doing}")


async def still_in_room(participant: Participant, scenario: Scenario, doing: str) -> None:
    gone = participant.received("roomLeft")
    must.that(not gone, f"{participant.label} got roomLeft({gone[0].get('state') if gone else ''}) after {doing}")
    must.that(
        participant.room_state == "joined",
        f"{participant.label} should still be in the room after {doing}, but its state is {participant.room_state!r}",
    )


async def told_left(observer: Participant, leaver: Participant, scenario: Scenario, doing: str) -> None:
    await observer.wait_for(
        "participantLeft",
        lambda e: (e.get("participant") or {}).get("id") == leaver.peer_id,
        timeout=scenario.timeout,
        what=f"participantLeft for {leaver.label} ({doing})",
    )


def is_event(name: str, session_id: str | None = None) -> Any:
    def match(delivery: Delivery) -> bool:
        body = delivery.json if isinstance(delivery.json, dict) else {}
        meeting = body.get("meeting") if isinstance(body.get("meeting"), dict) else {}
        return delivery.event == name and (session_id is None or meeting.get("sessionId") == session_id)

    return match


async def delivery(channel: Channel, name: str, scenario: Scenario, session_id: str | None = None) -> Delivery:
    return await channel.wait_for(is_event(name, session_id), scenario.timeout, what=name)


# -- negative windows ------------------------------------------------------------------------
# "Nothing happens" is watched as long as the matching positive wait would have waited for the
# thing to happen. With a test clock the target's time is moved past that point in the middle
# of the watch: first the event timeout in real time (the target may still be handling the
# request, and would schedule a late effect from where its clock then stands), then the clock
# is passed, then the event timeout again for anything that fell due.


async def nothing_within(
    scenario: Scenario, horizon: float, why: str, watch: Callable[[float], Awaitable[None]]
) -> None:
    """Run `watch(seconds)` (a negative check) over `horizon` seconds of target time."""
    if scenario.config.time.control != "test-clock":
        await watch(max(horizon, scenario.timeout))
        return
    await watch(scenario.timeout)
    await scenario.pass_time(horizon, why)
    await watch(scenario.timeout)


async def no_delivery(
    scenario: Scenario, channel: Channel, match: Any, what: str, horizon: float | None = None
) -> None:
    """No matching delivery within the window a positive wait would give it (default: the
    event timeout; a retry's is `limits.webhook_retry_seconds`)."""

    async def watch(seconds: float) -> None:
        await channel.assert_none(match, within=seconds, what=what)

    await nothing_within(scenario, scenario.timeout if horizon is None else horizon, f"waiting out {what}", watch)


async def stays_in_room(scenario: Scenario, people: list[Participant], doing: str) -> None:
    """Each participant is still in the room after the negative window, not at one instant: an
    end or a kick that follows `doing` a little later is caught."""

    async def watch(seconds: float) -> None:
        await asyncio.gather(
            *(p.assert_no_event("roomLeft", within=seconds, what=f"roomLeft after {doing}") for p in people)
        )

    await nothing_within(scenario, scenario.timeout, f"waiting for a late roomLeft after {doing}", watch)
    for person in people:
        await still_in_room(person, scenario, doing)
