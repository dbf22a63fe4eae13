"""Cloudflare's official Python SDK (`cloudflare` 5.x, `client.realtime_kit`) drives the
reference unmodified, only `base_url` pointed at it; every answer it gets is checked against
Cloudflare's official description (the SDK's own models accept almost anything)."""

from __future__ import annotations

import cloudflare  # the [dev] extra installs it; missing, this test fails rather than skips
import httpx

from conformance.reference.server import ThreadedServer

from .conftest import PARTICIPANT, Room, official_operation


class AnswersChecked:
    """An httpx response hook: each answer the SDK receives must fit the official schema."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        operation = official_operation(request.method, request.url.path)
        operation.validate_response(response)  # raises with the violation
        self.checked.append(f"{request.method} {operation.path} {response.status_code}")


async def test_the_official_sdk_drives_the_reference(srv: ThreadedServer, room: Room) -> None:
    assert srv.endpoints is not None and srv.reference is not None
    creds = srv.reference.settings.credentials
    ids = {"account_id": creds.account_id, "app_id": creds.app_id}
    hook = AnswersChecked()
    async with httpx.AsyncClient(timeout=10.0, event_hooks={"response": [hook]}) as http:
        client = cloudflare.AsyncCloudflare(
            api_token=creds.admin_token, base_url=srv.endpoints.base_url, http_client=http, max_retries=0
        )
        kit = client.realtime_kit

        meeting = (await kit.meetings.create(creds.app_id, account_id=creds.account_id, title="sdk")).data
        assert meeting is not None and meeting.id and meeting.title == "sdk"
        added = await kit.meetings.add_participant(
            meeting.id, **ids, custom_participant_id="sdk-alice", preset_name=PARTICIPANT, name="Alice"
        )
        assert added.data is not None and added.data.token

        await (await room.driver.participant("sdk-alice")).join(added.data.token)
        active = await kit.active_session.get_active_session(meeting.id, **ids)
        assert active.data is not None and active.data.associated_id == meeting.id and active.data.status == "LIVE"
        ended = await kit.active_session.kick_all_participants(meeting.id, **ids)
        assert ended.data is not None and ended.data.kicked_participants_count == 1

        presets = await kit.presets.get(creds.app_id, account_id=creds.account_id)
        assert PARTICIPANT in {p.name for p in presets.data}
        webhook = await kit.webhooks.create_webhook(
            creds.app_id,
            account_id=creds.account_id,
            name="sdk",
            url="http://127.0.0.1:9/sdk",
            events=["meeting.ended"],
            enabled=False,
        )
        assert webhook.data.id and webhook.data.enabled is False
        await kit.webhooks.delete_webhook(webhook.data.id, **ids)

        replaced = await kit.meetings.replace_meeting_by_id(meeting.id, **ids, title="sdk-2")
        assert replaced.data is not None and replaced.data.title == "sdk-2"

    assert len(hook.checked) == 8, hook.checked  # every call above, each answer checked
