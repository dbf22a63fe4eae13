"""Which requirement each consumer interaction is evidence for.

The consumers know nothing of the catalogue; the suite decides what a broken interaction
means. An interaction missing here is a suite error (the lint in tests/test_contracts.py
keeps the table complete).
"""

from __future__ import annotations

from conformance.contracts.pacts import Interaction

REQUIREMENT_OF: dict[str, str] = {
    # the session-admin backend (REST)
    "session-admin-backend: a request to end the live session": "END-01",
    "session-admin-backend: a request to end the session of a meeting with no live session": "END-06",
    "session-admin-backend: a request for the live session": "API-01",
    "session-admin-backend: a request for the live session of a meeting with no live session": "END-03",
    "session-admin-backend: a request to deactivate the meeting": "MEET-02",
    "session-admin-backend: a request to reactivate the meeting": "MEET-02",
    # exactly 400 with the envelope: API-03 (SHOULD); MEET-03 itself asks only for a refusal
    "session-admin-backend: a request to set a meeting status that does not exist": "API-03",
    # PATCH's 404 is not documented with a body: its envelope is API-03's (SHOULD)
    "session-admin-backend: a request to deactivate a meeting that does not exist": "API-03",
    "session-admin-backend: a request to register a meeting.ended webhook": "WH-01",
    # the pacts expect exactly 401 / 403 (and the envelope): PERM-06, a SHOULD
    "session-admin-backend: a request to end the live session with a revoked API token": "PERM-06",
    "session-admin-backend: a request to end the live session with a token lacking the Realtime permission": "PERM-06",
    # the webhook receiver (messages)
    "webhook-receiver: a meeting.ended delivery": "END-08",
    "webhook-receiver: a meeting.participantLeft delivery": "LEAVE-02",
}


def requirement_of(interaction: Interaction) -> str | None:
    return REQUIREMENT_OF.get(interaction.key)
