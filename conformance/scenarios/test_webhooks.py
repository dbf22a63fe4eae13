"""Webhooks: subscriptions, signatures, retries, and the order events arrive in.

RealtimeKit webhooks: each delivery carries `rtk-signature` (base64 RSA-SHA256 of the raw
body, verifiable with the key at /.well-known/webhooks.json), `rtk-uuid` and
`rtk-webhook-id`; 5xx and network errors are retried, other non-2xx answers are not; an
endpoint gets only the events in its webhook's `events`.
"""

from __future__ import annotations

import asyncio

import pytest

from conformance import must
from conformance.scenarios import steps
from conformance.webhook_receiver import Answer

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement

MEETING_EVENTS = ["meeting.started", "meeting.participantJoined", "meeting.participantLeft", "meeting.ended"]


def retry_wait(scenario) -> float:
    return scenario.config.limits.webhook_retry_seconds


async def speed_up_retries(scenario) -> None:
    """With a test clock, jump past any backoff so that due retries happen now."""
    if scenario.config.time.control == "test-clock":
        await scenario.pass_time(120, "the webhook retry backoff")


@requirement("WH-01")
async def test_webhook_crud_round_trips(scenario):
    webhook, channel = await scenario.webhook(["meeting.started", "meeting.ended"])
    must.equal(sorted(webhook.get("events", [])), ["meeting.ended", "meeting.started"], "events of the created webhook")
    must.equal(webhook.get("url"), channel.url, "url of the created webhook")
    must.equal(webhook.get("enabled"), True, "enabled of a webhook created without `enabled`")

    read = must.success_data(
        must.status(await scenario.api.request("GET", f"/webhooks/{webhook['id']}"), 200, "read the webhook"),
        "get webhook",
    )
    must.equal(read.get("events"), webhook.get("events"), "events read back")

    changed = await scenario.api.update_webhook(webhook["id"], events=["meeting.ended"], name="renamed")
    data = must.success_data(must.status(changed, 200, "edit the webhook"), "patch webhook")
    must.equal((data.get("events"), data.get("name")), (["meeting.ended"], "renamed"), "events and name after PATCH")

    listed = must.success_data(must.status(await scenario.api.list_webhooks(), 200, "list webhooks"), "list webhooks")
    must.that(any(w.get("id") == webhook["id"] for w in listed), "the webhook is missing from the list")

    must.status(await scenario.api.delete_webhook(webhook["id"]), 200, "delete the webhook")
    must.status(await scenario.api.request("GET", f"/webhooks/{webhook['id']}"), 404, "read a deleted webhook")


@requirement("WH-01")
async def test_an_endpoint_gets_only_its_events_and_a_disabled_one_gets_nothing(scenario):
    _, subscribed = await scenario.webhook(["meeting.ended"])
    _, disabled = await scenario.webhook(MEETING_EVENTS, enabled=False)
    meeting = await scenario.meeting()
    host = await scenario.join(meeting["id"], "host")
    must.status(await scenario.api.kick_all(meeting["id"]), 200, "end the live session")

    await steps.delivery(subscribed, "meeting.ended", scenario, host.session_id)
    others = [d.event for d in subscribed.deliveries if d.event != "meeting.ended"]
    must.equal(others, [], "events delivered to a webhook subscribed only to meeting.ended")
    await steps.no_delivery(scenario, disabled, lambda d: True, "any delivery to a disabled webhook")


@requirement("WH-02")
async def test_every_delivery_is_signed_and_names_its_webhook(scenario):
    webhook, channel = await scenario.webhook(MEETING_EVENTS)
    meeting = await scenario.meeting()
    host, guest = await scenario.join_many(meeting["id"], "host", "participant")
    await guest.leave()
    must.status(await scenario.api.kick_all(meeting["id"]), 200, "end the live session")
    await steps.delivery(channel, "meeting.ended", scenario, host.session_id)

    must.that(len(channel.deliveries) >= 4, f"expected at least 4 deliveries, got {len(channel.deliveries)}")
    for delivery in channel.deliveries:
        must.that(delivery.headers.get("rtk-signature") is not None, f"{delivery.describe()}: no rtk-signature header")
        must.equal(
            delivery.signature_valid,
            True,
            f"{delivery.describe()}: rtk-signature verifies against the published key over the raw body",
        )
        must.equal(delivery.webhook_id, webhook["id"], f"{delivery.describe()}: rtk-webhook-id")
        must.that(bool(delivery.uuid), f"{delivery.describe()}: no rtk-uuid header")


@requirement("WH-03")
async def test_a_receiver_answering_5xx_is_retried(scenario):
    _, channel = await scenario.webhook(["meeting.started"])
    channel.script(Answer(status=500))
    meeting = await scenario.meeting()
    await scenario.join(meeting["id"], "host")

    await channel.wait_for("meeting.started", scenario.timeout)
    await speed_up_retries(scenario)
    # The retry arriving is the whole check: what the receiver answers it is the suite's script.
    await channel.wait_for_count("meeting.started", 2, retry_wait(scenario), what="a retry after a 500")


@requirement("WH-03")
async def test_a_receiver_that_does_not_answer_is_retried(scenario):
    _, channel = await scenario.webhook(["meeting.started"])
    # Hold the delivery open for the whole retry window: the implementation must give up on
    # it by its own delivery timeout and try again within the window.
    channel.script(Answer(stall_seconds=retry_wait(scenario)))
    meeting = await scenario.meeting()
    await scenario.join(meeting["id"], "host")

    await channel.wait_for("meeting.started", scenario.timeout)
    await channel.wait_for_count("meeting.started", 2, retry_wait(scenario), what="a retry after no answer")


@requirement("WH-03")
async def test_a_receiver_answering_4xx_or_2xx_is_not_retried(scenario):
    _, refused = await scenario.webhook(["meeting.started"])
    refused.script(Answer(status=404))
    _, accepted = await scenario.webhook(["meeting.started"])
    meeting = await scenario.meeting()
    await scenario.join(meeting["id"], "host")

    first_refused = await refused.wait_for("meeting.started", scenario.timeout)
    first_accepted = await accepted.wait_for("meeting.started", scenario.timeout)

    # Watched for the whole retry window (limits.webhook_retry_seconds), the time a retry of a
    # 5xx is given to come: a retry of a 4xx, or a repeat of a 2xx, would come within it too.
    async def watch(seconds: float) -> None:
        await asyncio.gather(
            refused.assert_none(lambda d: d.seq > first_refused.seq, within=seconds, what="retry after a 404"),
            accepted.assert_none(lambda d: d.seq > first_accepted.seq, within=seconds, what="repeat after a 200"),
        )

    await steps.nothing_within(scenario, retry_wait(scenario), "the webhook retry window", watch)


@requirement("WH-04")
async def test_retries_keep_the_event_uuid(scenario):
    _, channel = await scenario.webhook(["meeting.started"])
    channel.script(Answer(status=503))
    meeting = await scenario.meeting()
    await scenario.join(meeting["id"], "host")

    await channel.wait_for("meeting.started", scenario.timeout)
    await speed_up_retries(scenario)
    first, retry = await channel.wait_for_count("meeting.started", 2, retry_wait(scenario), what="a retry after a 503")
    must.equal(retry.uuid, first.uuid, "rtk-uuid of a retried delivery")


@requirement("WH-05")
async def test_events_of_one_session_arrive_in_causal_order(scenario):
    _, channel = await scenario.webhook(MEETING_EVENTS)
    meeting = await scenario.meeting()
    host, guest = await scenario.join_many(meeting["id"], "host", "participant")
    await guest.leave()
    must.status(await scenario.api.kick_all(meeting["id"]), 200, "end the live session")
    await steps.delivery(channel, "meeting.ended", scenario, host.session_id)

    order = [d.event for d in channel.deliveries if steps.is_event(d.event or "", host.session_id)(d)]
    must.that(order[:1] == ["meeting.started"], f"meeting.started must come first, got {order}")
    must.that(order[-1:] == ["meeting.ended"], f"meeting.ended must come last, got {order}")
    must.equal(order.count("meeting.participantLeft"), 2, f"participantLeft deliveries before meeting.ended ({order})")
