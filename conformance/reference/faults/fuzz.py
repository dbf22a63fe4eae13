"""Faults only the fuzz phase is built to find: they sit where no scenario looks (a query
boundary, an operation the scenarios never call, an answer to an invalid body), which is
what generated requests are for. Each breaks one schema-level requirement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.reference.faults.base import dumps, fault, patch, rewrite_json_responses

if TYPE_CHECKING:
    from conformance.reference.app import Reference


@fault("recordings_paging_as_strings", "API-01", operations=("listRecordings",))
def _paging_as_strings(ref: Reference) -> None:
    """The recordings list carries its paging numbers as strings ("20") instead of integers."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        paging = body.get("paging") if isinstance(body, dict) else None
        if path.endswith("/recordings") and status == 200 and isinstance(paging, dict):
            body["paging"] = {key: str(value) for key, value in paging.items()}
            return status, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("server_error_on_empty_session_page", "API-01", operations=("listSessions",))
def _error_on_empty_page(ref: Reference) -> None:
    """Listing sessions with per_page=0, the documented minimum, crashes with a 500."""

    def make(query: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def check(operation_id: str, raw: dict[str, str]) -> dict[str, Any]:
            values = query(operation_id, raw)
            if operation_id == "listSessions" and values.get("per_page") == 0:
                raise RuntimeError("page size 0: division by zero")
            return values

        return check

    patch(ref.api.validator, "query", make)


@fault("query_errors_without_envelope", "API-03", operations=("listSessions",))
def _query_errors_bare(ref: Reference) -> None:
    """A 400 for an invalid query parameter comes back as {"detail": "..."}, not the error envelope
    (a SHOULD: Cloudflare does not document these 400s with its error schema)."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if status == 400 and isinstance(message, str) and message.startswith("query parameter"):
            return status, dumps({"detail": message}), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("active_session_404_without_envelope", "API-02", operations=("getActiveSession",))
def _no_session_bare(ref: Reference) -> None:
    """`GET …/active-session` with no live session answers 404 {"detail": "..."}, where Cloudflare
    documents that 404 with its error schema (realtimekit_GetActiveSessionNotFound)."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if path.endswith("/active-session") and status == 404 and isinstance(body, dict):
            return status, dumps({"detail": "no active session"}), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("webhook_created_answers_202", "API-01", operations=("createWebhook",))
def _webhook_202(ref: Reference) -> None:
    """Creating a webhook answers 202, a success status neither Cloudflare (201) nor the suite lists."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if path.endswith("/webhooks") and status == 201:
            return 202, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("webhook_validation_answers_422", "API-04", operations=("createWebhook",))
def _webhook_422(ref: Reference) -> None:
    """An invalid webhook body is refused with 422, a status the description does not list (a
    SHOULD: Cloudflare documents few error statuses, so an unlisted 4xx only warns)."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if "/webhooks" in path and status == 400 and isinstance(body, dict):
            if isinstance(body.get("error"), dict):
                body["error"]["code"] = 422  # the envelope stays right: only the status is wrong
            return 422, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)


@fault("recordings_readable_without_token", "PERM-04", operations=("listRecordings",))
def _recordings_open(ref: Reference) -> None:
    """GET on recordings works without an Authorization header (as if the admin token were sent)."""
    inner = ref.app
    admin = f"Bearer {ref.settings.credentials.admin_token}".encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and "/recordings" in scope["path"]
            and not any(name.lower() == b"authorization" for name, _ in scope["headers"])
        ):
            scope = {**scope, "headers": [*scope["headers"], (b"authorization", admin)]}
        await inner(scope, receive, send)

    ref.app = app  # type: ignore[assignment]


@fault("credential_refusals_answer_400", "PERM-06", operations=("listMeetings",))
def _credentials_400(ref: Reference) -> None:
    """A missing or unknown API token is refused with 400 instead of 401 (still refused, so only
    the SHOULD on the status is broken)."""

    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if status == 401:
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                error["code"] = 400
            return 400, dumps(body), "application/json"
        return None

    rewrite_json_responses(ref, rewrite)
