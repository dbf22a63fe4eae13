"""The error envelope has one judge (conformance.error_envelope), used by the scenarios'
`ApiResponse` and by the fuzz phase's `error_envelope` check: both phases give the same
verdict on the same answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import conformance.fuzz
from conformance.client import ApiResponse
from conformance.error_envelope import envelope_problem
from conformance.evidence_log import EvidenceLog
from conformance.redaction import Redactor

ENVELOPE_404 = {"success": False, "error": {"code": 404, "message": "no such meeting"}}

# (status, content type, body, None or a phrase of the problem)
CASES = [
    (404, "application/json", ENVELOPE_404, None),
    (404, "application/json; charset=utf-8", ENVELOPE_404, None),
    (404, "Application/JSON", ENVELOPE_404, None),
    # Cloudflare's schema types `code` as number: 404.0 is the status too.
    (404, "application/json", {"success": False, "error": {"code": 404.0, "message": "x"}}, None),
    # The description gives the envelope one media type: application/json.
    (404, "text/plain", ENVELOPE_404, "content type is text/plain"),
    (404, "", ENVELOPE_404, "content type is missing"),
    (404, "application/problem+json", ENVELOPE_404, "not application/json"),
    (404, "application/json", None, "not a JSON object"),
    (400, "application/json", {"detail": "bad"}, "`success`"),
    (400, "application/json", {"success": True, "error": {"code": 400, "message": "x"}}, "`success`"),
    (400, "application/json", {"success": False}, "no `error` object"),
    (400, "application/json", {"success": False, "error": {"code": 1000, "message": "x"}}, "not the HTTP status"),
    (400, "application/json", {"success": False, "error": {"code": True, "message": "x"}}, "not a number"),
    (400, "application/json", {"success": False, "error": {"code": "400", "message": "x"}}, "not a number"),
    (500, "application/json", {"success": False, "error": {"code": 500}}, "message"),
]


def api_response(status: int, content_type: str, body: Any) -> ApiResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = httpx.Headers({"content-type": content_type} if content_type else {})
    exchange = EvidenceLog(Redactor()).record_exchange(
        method="GET",
        url="http://target/meetings/m",
        request_headers={},
        request_body=None,
        status=status,
        response_headers=headers,
        response_body=raw,
        error=None,
        started_at=datetime.now(UTC),
        duration_ms=1.0,
        check=None,
    )
    return ApiResponse("GET", "/meetings/m", status, headers, raw.decode(), body, exchange)


@pytest.mark.parametrize(("status", "content_type", "body", "problem"), CASES)
def test_the_one_judge(status: int, content_type: str, body: Any, problem: str | None) -> None:
    found = envelope_problem(status, content_type, body)
    assert (found is None) if problem is None else (found is not None and problem in found), found


@pytest.mark.parametrize(("status", "content_type", "body", "problem"), CASES)
def test_scenarios_and_fuzz_phase_agree(status: int, content_type: str, body: Any, problem: str | None) -> None:
    response = api_response(status, content_type, body)
    scenario_verdict = response.envelope_problem()
    # The fuzz phase's error_envelope check (fuzz/hooks.py, loaded only inside the `st` child)
    # asks the same function: read from its source, not imported (importing registers the check).
    hooks = (Path(conformance.fuzz.__file__).parent / "hooks.py").read_text()
    assert "from conformance.error_envelope import envelope_problem" in hooks
    fuzz_verdict = envelope_problem(status, content_type, body)
    assert scenario_verdict == fuzz_verdict
    assert response.is_error_envelope() is (problem is None)


def test_error_code_is_reported_whatever_it_is() -> None:
    # must.error_envelope names the code it got, even when it is not the status.
    assert api_response(400, "application/json", {"success": False, "error": {"code": 1000}}).error_code == 1000
    assert api_response(200, "application/json", {"success": True, "data": {}}).error_code is None
