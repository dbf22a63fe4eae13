"""Provider states on the target: what each state a consumer names means, made true through
the target's own API and the participant driver, and undone afterwards.

One `World` per interaction. The verifier asks for each state in turn; the values a state
returns (`meetingId`, `webhookUrl`) are injected into the interaction's request where the
pact says `fromProviderState`. A message interaction's message is produced here too: the
real event is caused on the target and its webhook delivery captured by the receiver.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from conformance.contracts.pacts import Interaction
from conformance.drivers.base import Participant
from conformance.errors import CheckNotRunnable, SuiteCouldNotRun
from conformance.harness import Harness, Scenario
from conformance.scenarios.steps import is_event
from conformance.webhook_receiver import Channel

# States about the caller's credentials change no data: they decide which token the
# verifier sends (see verification.authorization).
INVALID_TOKEN = "the API token is not valid"
NO_PERMISSION = "the API token lacks the Realtime permission"

# What a message interaction's delivery carries besides its body, as pact metadata.
DELIVERY_HEADERS = ("rtk-signature", "rtk-uuid", "rtk-webhook-id")


@dataclass(frozen=True)
class Message:
    body: bytes
    content_type: str | None
    metadata: dict[str, str]


class World:
    """One interaction's provider states on the target, and the way to undo them."""

    def __init__(self, harness: Harness, interaction: Interaction, check: str) -> None:
        self.harness = harness
        self.interaction = interaction
        self.check = check  # evidence is filed under this check
        self.scenario = Scenario(harness, f"pact {interaction.description}")
        self.meeting_id: str | None = None
        self.participants: list[Participant] = []
        self.channel: Channel | None = None
        self.event: str | None = None
        self.endpoint_urls: list[str] = []  # webhooks the interaction itself registers there
        # What went wrong on our side of the verification, for the verdict.
        self.setup_failure: tuple[str, BaseException] | None = None
        self.message_failure: BaseException | None = None
        self._torn_down = False

    async def set_up(self, state: str, params: dict[str, Any]) -> dict[str, Any]:
        if state == "":  # the verifier's call for an interaction without states
            return {}
        handler = STATES.get(state)
        if handler is None:
            raise SuiteCouldNotRun(f"the suite has no set-up for the provider state {state!r}")
        return await handler(self, params)

    async def tear_down(self) -> None:
        """Undo everything (once; the verifier calls teardown per state)."""
        if self._torn_down:
            return
        self._torn_down = True
        try:
            await self._delete_webhooks_registered_by_the_interaction()
        except Exception as exc:  # cleanup goes on whatever the target does
            where = ", ".join(self.endpoint_urls)
            self.harness.ledger.left_behind.append(f"webhooks registered for {where} ({type(exc).__name__}: {exc})")
        finally:
            await self.scenario.cleanup()

    async def produce(self) -> Message:
        """Cause the subscribed event on the target and return its real delivery."""
        if self.channel is None or self.event is None or not self.participants:
            raise SuiteCouldNotRun(
                f"{self.interaction.key}: its provider states set up no webhook or no live session to cause it"
            )
        cause = CAUSES.get(self.event)
        if cause is None:
            raise SuiteCouldNotRun(f"the suite cannot cause {self.event} on the target")
        session_id = self.participants[0].session_id
        await cause(self)
        delivery = await self.channel.wait_for(is_event(self.event, session_id), self.scenario.timeout, what=self.event)
        media_type = delivery.headers.get("content-type", "").split(";")[0].strip()  # a charset is no difference
        return Message(
            body=delivery.body,
            content_type=media_type or None,
            metadata={name: delivery.headers[name] for name in DELIVERY_HEADERS if name in delivery.headers},
        )

    async def _delete_webhooks_registered_by_the_interaction(self) -> None:
        if not self.endpoint_urls:
            return
        listed = await self.harness.api.list_webhooks()
        for webhook in listed.data if listed.status == 200 and isinstance(listed.data, list) else []:
            if isinstance(webhook, dict) and webhook.get("url") in self.endpoint_urls:
                await self.harness._try_cleanup(
                    f"webhook {webhook.get('id')}", self.harness.api.delete_webhook(str(webhook.get("id"))), (200, 404)
                )

    async def meeting(self) -> str:
        if self.meeting_id is None:
            self.meeting_id = (await self.scenario.meeting())["id"]
        return self.meeting_id


# -- the states ------------------------------------------------------------------------------

State = Callable[[World, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _meeting_exists(world: World, params: dict[str, Any]) -> dict[str, Any]:
    return {"meetingId": await world.meeting()}


async def _meeting_inactive(world: World, params: dict[str, Any]) -> dict[str, Any]:
    meeting_id = await world.meeting()
    response = await world.harness.api.update_meeting(meeting_id, status="INACTIVE")
    response.expect(200, "deactivate meeting M (provider state)")
    return {"meetingId": meeting_id}


async def _live_session(world: World, params: dict[str, Any]) -> dict[str, Any]:
    meeting_id = await world.meeting()
    count = int(params.get("participants", 1))
    roles = ["host"] + ["participant"] * (count - 1)
    world.participants += await world.scenario.join_many(meeting_id, *roles)
    return {"meetingId": meeting_id}


async def _no_such_meeting(world: World, params: dict[str, Any]) -> dict[str, Any]:
    return {"meetingId": str(uuid.uuid4())}


async def _invalid_token(world: World, params: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _no_permission(world: World, params: dict[str, Any]) -> dict[str, Any]:
    if not world.harness.config.tokens.no_permission:
        raise CheckNotRunnable(
            "this interaction needs a token without the Realtime permission: set "
            "RTKC_NO_PERMISSION_TOKEN or RTKC_NO_PERMISSION_TOKEN_FILE"
        )
    return {}


async def _webhook_endpoint(world: World, params: dict[str, Any]) -> dict[str, Any]:
    channel = world.scenario.require_receiver().channel()
    world.endpoint_urls.append(channel.url)
    return {"webhookUrl": channel.url}


async def _webhook_subscribed(world: World, params: dict[str, Any]) -> dict[str, Any]:
    event = str(params.get("event", ""))
    _, world.channel = await world.scenario.webhook([event])
    world.event = event
    return {}


STATES: dict[str, State] = {
    "meeting M exists": _meeting_exists,
    "meeting M has no live session": _meeting_exists,
    "meeting M is ACTIVE": _meeting_exists,
    "meeting M is INACTIVE": _meeting_inactive,
    "meeting M has a live session": _live_session,
    "no meeting has id M": _no_such_meeting,
    "an endpoint is ready to receive webhooks": _webhook_endpoint,
    "a webhook is subscribed": _webhook_subscribed,
    INVALID_TOKEN: _invalid_token,
    NO_PERMISSION: _no_permission,
}


# -- causing the events a message interaction is about ----------------------------------------


async def _end_the_session(world: World) -> None:
    response = await world.harness.api.kick_all(await world.meeting())
    response.expect(200, "end the live session, the cause of meeting.ended")


async def _one_participant_leaves(world: World) -> None:
    await world.participants[-1].leave()


CAUSES: dict[str, Callable[[World], Awaitable[None]]] = {
    "meeting.ended": _end_the_session,
    "meeting.participantLeft": _one_participant_leaves,
}
