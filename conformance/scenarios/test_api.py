"""The REST surface against its description: response shapes and the error envelope.

The fuzz phase checks every input; these checks walk each resource family with ordinary
requests and a few boundary ones, and validate every answer against
openapi/realtimekit.yaml (status documented, body matching its schema).
"""

from __future__ import annotations

import pytest

from conformance import must
from conformance.response_conformance import officially_documented, response_problem

pytestmark = pytest.mark.asyncio(loop_scope="session")
requirement = pytest.mark.rtkc_requirement

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def conforms(operation_id: str, response) -> None:
    must.that(response.status < 500, f"{operation_id} answered {response.status}", response)
    if response.status >= 400 and not officially_documented(operation_id, response.status):
        return  # an error Cloudflare does not describe: its body is API-03's (a SHOULD)
    problem = response_problem(operation_id, response.status, response.json, response.content_type)
    must.that(problem is None, f"{operation_id}: {problem}", response)


@requirement("API-01")
async def test_meeting_and_participant_answers_match_the_description(scenario):
    api = scenario.api
    created = await api.create_meeting(title="t" * 255, session_keep_alive_time_in_secs=600)
    conforms("createMeeting", created)
    meeting = must.success_data(created, "create meeting")
    scenario._meetings.append(meeting["id"])
    conforms("getMeeting", await api.get_meeting(meeting["id"]))
    conforms("listMeetings", await api.request("GET", "/meetings", params={"per_page": 5, "page_no": 1}))
    conforms("updateMeeting", await api.update_meeting(meeting["id"], title=None, persist_chat=True))
    conforms("getMeeting", await api.get_meeting(UNKNOWN_ID))
    conforms("getActiveSession", await api.get_active_session(meeting["id"]))

    host = await scenario.join(meeting["id"], "host")
    conforms("getActiveSession", await api.get_active_session(meeting["id"]))
    conforms("getSession", await api.get_session(host.session_id))
    conforms("listSessions", await api.list_sessions(associated_id=meeting["id"]))
    conforms("listSessionParticipants", await api.list_session_participants(host.session_id))
    conforms("listParticipants", await api.request("GET", f"/meetings/{meeting['id']}/participants"))
    conforms("kickAllParticipants", await api.kick_all(meeting["id"]))
    conforms("getSession", await api.get_session(host.session_id))


@requirement("API-01")
async def test_preset_and_webhook_answers_match_the_description(scenario):
    api = scenario.api
    conforms("listPresets", await api.list_presets())
    webhook, _ = await scenario.webhook(["meeting.ended"])
    conforms("getWebhook", await api.request("GET", f"/webhooks/{webhook['id']}"))
    conforms("listWebhooks", await api.list_webhooks())
    conforms("updateWebhook", await api.update_webhook(webhook["id"], enabled=False))
    conforms("getWebhook", await api.request("GET", f"/webhooks/{UNKNOWN_ID}"))


@requirement("API-02")
async def test_documented_errors_use_the_error_envelope_with_the_http_status_as_code(scenario):
    # Cloudflare documents GET active-session's 404 with realtimekit_GenericErrorResponse,
    # whose error.code is "HTTP status code of the error".
    meeting = await scenario.meeting()
    must.error_envelope(
        await scenario.api.get_active_session(meeting["id"]), 404, "read the live session of a meeting nobody joined"
    )


@requirement("API-03")
async def test_other_refusals_use_the_error_envelope_with_the_http_status_as_code(scenario):
    # A SHOULD: these statuses are not documented with a body. 401/403 are not judged at all:
    # Cloudflare's own 401 example is {"message": "Unauthorized"}.
    api = scenario.api
    meeting = await scenario.meeting()
    must.error_envelope(await api.get_meeting(UNKNOWN_ID), 404, "read a meeting that does not exist")
    must.error_envelope(await api.update_meeting(meeting["id"], status="NOPE"), 400, "PATCH an invalid status")
    # 200 is also a legal answer here (END-06 is a SHOULD); only a refusal's body is judged.
    no_session = await api.kick_all(meeting["id"])
    if no_session.status >= 400:
        must.error_envelope(no_session, no_session.status, "kick-all with no live session")
    must.error_envelope(
        await api.request("POST", "/meetings", raw_body=b"{not json", headers={"content-type": "application/json"}),
        400,
        "create a meeting with a body that is not JSON",
    )
