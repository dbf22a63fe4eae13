"""Faults in the REST surface: response shapes, the error envelope, auth and tenants."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.reference.faults.base import (
    dumps,
    fault,
    patch,
    rewrite_json_responses,
)

if TYPE_CHECKING:
    from conformance.reference.app import Reference


# -- the REST surface ------------------------------------------------------------------------


@fault("session_count_as_string", "API-01")
def _count_as_string(ref: Reference) -> None:
    """Session objects carry live_participants as a string instead of an integer."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and "live_participants" in data:
            data["live_participants"] = str(data["live_participants"])
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("webhook_enabled_as_string", "API-01", "WH-01")
def _enabled_as_string(ref: Reference) -> None:
    """Webhook answers carry `enabled` as the string "true"/"false" instead of a boolean."""

    def stringify(webhook: Any) -> bool:
        if isinstance(webhook, dict) and isinstance(webhook.get("enabled"), bool):
            webhook["enabled"] = str(webhook["enabled"]).lower()
            return True
        return False

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        data = body.get("data") if isinstance(body, dict) else None
        rows = data if isinstance(data, list) else [data]
        if "/webhooks" in path and sum(stringify(row) for row in rows):
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("server_error_on_long_title", "API-01")
def _error_on_long_title(ref: Reference) -> None:
    """Creating a meeting with a title longer than 200 characters crashes with a 500."""
    validator = ref.api.validator

    def make(body: Callable[..., None]) -> Callable[..., None]:
        def check(op: str, value: Any, *, present: bool) -> None:
            body(op, value, present=present)
            if op == "createMeeting" and isinstance(value, dict) and len(str(value.get("title") or "")) > 200:
                raise RuntimeError("title column overflow")

        return check

    patch(validator, "body", make)


@fault("error_envelope_missing", "API-02")
def _no_envelope(ref: Reference) -> None:
    """Errors are answered with a plain-text body instead of the error envelope."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if status >= 400:
            return status, b"Not Found" if status == 404 else b"Error", "text/plain"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("error_code_mismatch", "API-02")
def _code_mismatch(ref: Reference) -> None:
    """The error envelope's code is always 1000 instead of the HTTP status."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
            body["error"]["code"] = 1000
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("refusals_without_envelope", "API-03")
def _refusals_bare(ref: Reference) -> None:
    """A 400 refusing a request body comes back as {"detail": "..."}, not the error envelope
    (the documented 404 of GET active-session keeps it)."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        error = body.get("error") if isinstance(body, dict) else None
        if status == 400 and isinstance(error, dict):
            return status, dumps({"detail": error.get("message")}), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("ended_session_without_ended_at", "END-10")
def _ended_without_ended_at(ref: Reference) -> None:
    """A session read as ENDED carries no ended_at."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and data.get("status") == "ENDED" and "ended_at" in data:
            del data["ended_at"]
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("ended_session_keeps_a_live_count", "END-10")
def _ended_live_count(ref: Reference) -> None:
    """An ENDED session still reads live_participants 1, as if someone were in it."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and data.get("status") == "ENDED" and "live_participants" in data:
            data["live_participants"] = 1
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("no_permission_answers_401", "PERM-06")
def _no_permission_401(ref: Reference) -> None:
    """A known token without the permission is refused with 401 instead of 403 (still refused)."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if status == 403:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                error["code"] = 401
            return 401, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)
