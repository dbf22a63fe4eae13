"""A session-admin backend: the part of a school's back office that ends classes.

It is a consumer of the RealtimeKit REST API and uses only what its contract records
(`contracts/pacts/session-admin-backend-realtimekit.json`): end a class for everyone
(kick-all), look at the live session, take a meeting out of service and back
(PATCH status), and register the webhook that reports ended classes. It is configured
with one app-scoped URL, `{base_url}/accounts/{account_id}/realtime/kit/{app_id}`, so the
contract's paths start at `/meetings` and `/webhooks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "AdminError",
    "LiveSession",
    "MeetingNotFound",
    "NotAuthenticated",
    "NotPermitted",
    "RequestRejected",
    "SessionAdmin",
    "Webhook",
]


class AdminError(Exception):
    """RealtimeKit refused a call; `status` and `message` come from its error envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class NotAuthenticated(AdminError):
    """401: the API token is missing, expired or revoked; an operator must replace it."""


class NotPermitted(AdminError):
    """403: the token works but lacks the Realtime permission."""


class MeetingNotFound(AdminError):
    """404 on a meeting: it does not exist in this app."""


class RequestRejected(AdminError):
    """400: the request itself was wrong (a bug on our side, never retried)."""


_ERRORS: dict[int, type[AdminError]] = {
    400: RequestRejected,
    401: NotAuthenticated,
    403: NotPermitted,
    404: MeetingNotFound,
}


@dataclass(frozen=True)
class LiveSession:
    id: str
    meeting_id: str
    live_participants: int
    started_at: datetime


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    events: tuple[str, ...]
    enabled: bool


class SessionAdmin:
    def __init__(
        self, app_url: str, token: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(
            base_url=app_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SessionAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the back office does ----------------------------------------------------------

    def end_class(self, meeting_id: str) -> int | None:
        """End the meeting's live session for everyone; how many were removed.

        None when no session was live: the class had already ended, which is not an error
        for us (the teacher may press the button twice).
        """
        response = self._http.post(f"/meetings/{_seg(meeting_id)}/active-session/kick-all")
        if response.status_code == 404:
            return None
        data = self._data(response, 200)
        return int(data["kicked_participants_count"])

    def live_session(self, meeting_id: str) -> LiveSession | None:
        """The meeting's live session, or None when nobody is in class."""
        response = self._http.get(f"/meetings/{_seg(meeting_id)}/active-session")
        if response.status_code == 404:
            return None
        data = self._data(response, 200)
        return LiveSession(
            id=data["id"],
            meeting_id=data["associated_id"],
            live_participants=int(data["live_participants"]),
            started_at=datetime.fromisoformat(data["started_at"]),
        )

    def take_out_of_service(self, meeting_id: str) -> str:
        """Deactivate the meeting (nobody can join it); the id of the meeting changed."""
        return self._set_status(meeting_id, "INACTIVE")

    def put_back_in_service(self, meeting_id: str) -> str:
        return self._set_status(meeting_id, "ACTIVE")

    def _set_status(self, meeting_id: str, status: str) -> str:
        # A 200 is the answer that matters; the meeting object need not echo its status
        # (optional in Cloudflare's schema).
        response = self._http.patch(f"/meetings/{_seg(meeting_id)}", json={"status": status})
        return str(self._data(response, 200)["id"])

    def watch_ended_classes(self, url: str, name: str = "session-admin: classes ended") -> Webhook:
        """Register the webhook that tells the back office a class ended."""
        body = {"name": name, "url": url, "events": ["meeting.ended"], "enabled": True}
        data = self._data(self._http.post("/webhooks", json=body), 201)
        return Webhook(data["id"], data["url"], tuple(data["events"]), bool(data["enabled"]))

    # -- answers ----------------------------------------------------------------------------

    @staticmethod
    def _data(response: httpx.Response, status: int) -> Any:
        if response.status_code == status:
            body = response.json()
            if body.get("success") is True:
                return body["data"]
        raise _error(response)


def _error(response: httpx.Response) -> AdminError:
    try:
        error = response.json()["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text[:200] or response.reason_phrase
    return _ERRORS.get(response.status_code, AdminError)(response.status_code, message)


def _seg(value: str) -> str:
    return quote(value, safe="")
