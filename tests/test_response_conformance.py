"""API-01's judge of an answer (status, media type, body) is schemathesis' own response
checks, the fuzz phase's, over openapi/realtimekit.yaml: no second validator."""

from __future__ import annotations

import pytest

from conformance.response_conformance import officially_documented, response_problem

MEETING_ID = "5c6a7d3e-2f1b-4c8d-9e0f-1a2b3c4d5e6f"
MEETING = {
    "id": MEETING_ID,
    "created_at": "2025-01-01T00:00:00.000Z",
    "updated_at": "2025-01-01T00:00:00Z",
}
ENVELOPE_404 = {"success": False, "error": {"code": 404, "message": "no such meeting"}}


@pytest.mark.parametrize(
    ("status", "body", "content_type", "problem"),
    [
        (200, {"success": True, "data": MEETING}, "application/json", None),
        (200, {"success": True, "data": MEETING}, "application/json; charset=utf-8", None),
        (404, ENVELOPE_404, "application/json", None),
        (200, {"success": True, "data": {**MEETING, "id": "not-a-uuid"}}, "application/json", '"uuid"'),
        (200, {"success": True, "data": {**MEETING, "created_at": "yesterday"}}, "application/json", "date-time"),
        (200, {"success": True, "data": {"id": MEETING_ID}}, "application/json", "required property"),
        (200, None, "application/json", "JSON"),
        (404, ENVELOPE_404, "text/plain", "Undocumented Content-Type"),
        (418, ENVELOPE_404, "application/json", "Undocumented status code"),
    ],
)
def test_answers_are_judged_by_schemathesis(status, body, content_type, problem) -> None:
    found = response_problem("getMeeting", status, body, content_type)
    assert (found is None) if problem is None else (found is not None and problem in found), found
    if found:
        assert found.startswith("GET /accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id} ")
        assert len(found) < 500


def test_which_statuses_cloudflare_documents() -> None:
    assert officially_documented("getActiveSession", 404)  # with its error schema
    assert officially_documented("getMeeting", 200)
    assert not officially_documented("getMeeting", 404)  # one of the suite's additions
