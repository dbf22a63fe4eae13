"""Words both consumers' contracts are written in: matchers for what legitimately differs
from one provider to the next (ids, timestamps, URLs, tokens), and provider-state values
for the ids a provider's own state setup creates.

Every example value here is fixed, so regenerating a pact gives the same bytes.
"""

from __future__ import annotations

from typing import Any

from pact import Pact, generate, match
from pact.match.matcher import GenericMatcher

PROVIDER = "realtimekit"

# Examples only: the provider's real ids, tokens and times differ, and the matchers say so.
MEETING_ID = "3f6c2a9e-8d1b-4c7a-9e2f-5b8d1c0a7e64"
SESSION_ID = "8b1d6f0e-2c4a-4e8b-9a7d-1f3e5c7b9d20"
WEBHOOK_ID = "c5e2a7d1-9b3f-4a6e-8d2c-7f1b0e4a6c38"
DELIVERY_ID = "0b7e1c7e-4d0f-4b3a-9a51-0d8c3c2b1a00"
EXAMPLE_TOKEN = "example-admin-token"
EXAMPLE_TIME = "2025-03-04T09:00:00.000Z"
WEBHOOK_URL = "https://backoffice.example.test/rtk/classes-ended"

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# RealtimeKit writes UTC timestamps with milliseconds: 2025-03-04T09:00:00.000Z.
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX"


def new_pact(consumer: str) -> Pact:
    """A fresh handle per interaction: a handle is locked once its mock server has run."""
    return Pact(consumer, PROVIDER).with_specification("V4")


def uuid(example: str) -> Any:
    return match.uuid(example)


def timestamp(example: str = EXAMPLE_TIME) -> Any:
    return match.datetime(example, TIMESTAMP_FORMAT, disable_conversion=True)


def bearer(example: str = EXAMPLE_TOKEN) -> Any:
    return match.regex(f"Bearer {example}", regex=r"^Bearer \S+$")


def json_content_type() -> Any:
    return match.regex("application/json", regex=r"^application/json(;.*)?$")


def meeting_path(suffix: str = "") -> Any:
    """/meetings/{M}{suffix}, where M is the meeting the provider's state set up."""
    return GenericMatcher(
        "regex",
        f"/meetings/{MEETING_ID}{suffix}",
        regex=f"^/meetings/{UUID_PATTERN}{suffix}$",
        generator=generate.provider_state("/meetings/${meetingId}" + suffix),
    )


def from_provider_state(expression: str, example: str) -> Any:
    """A string the provider's state supplies (e.g. a URL it can receive webhooks at)."""
    return GenericMatcher("type", example, generator=generate.provider_state(expression))


def error_envelope(status: int) -> dict[str, Any]:
    """RealtimeKit's error body; the message is the provider's own words."""
    return {"success": False, "error": {"code": status, "message": match.str("what went wrong")}}
