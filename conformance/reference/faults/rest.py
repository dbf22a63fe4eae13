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
