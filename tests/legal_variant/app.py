"""The variant as an ASGI app: the reference, built as usual, behind a wrapper that rewrites
requests on the way in and answers on the way out (`choices.py`). A few choices need the
reference's state (is there a live session? is the meeting INACTIVE?) and are answered here
before the reference sees the request."""

from __future__ import annotations

import json
import re
from typing import Any

from conformance.reference.app import Reference, ReferenceSettings, build
from conformance.reference.auth import AuthError
from tests.legal_variant.choices import (
    ADD_TO_INACTIVE,
    ALL_CHOICES,
    CLOCK_204,
    KICK_ALL_IDLE,
    PUT_SERVED,
    put_as_patch,
    rewrite_response,
)

APP_PREFIX = re.compile(r"^/client/v4/accounts/(?P<account>[^/]+)/realtime/kit/(?P<app>[^/]+)(?P<path>/.*)$")
KICK_ALL = re.compile(r"^/meetings/(?P<meeting>[^/]+)/active-session/kick-all$")
ADD_PARTICIPANT = re.compile(r"^/meetings/(?P<meeting>[^/]+)/participants$")
CLOCK_ADVANCE = "/_conformance/clock/advance"

Scope = dict[str, Any]


def build_variant(settings: ReferenceSettings | None = None, choices: frozenset[str] = ALL_CHOICES) -> Reference:
    """The reference making the named other choices (all of them by default)."""
    unknown = choices - ALL_CHOICES
    if unknown:
        raise ValueError(f"unknown choice(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(ALL_CHOICES))}")
    reference = build(settings)
    reference.app = LegalVariant(reference, choices)  # type: ignore[assignment]
    return reference


class LegalVariant:
    def __init__(self, reference: Reference, choices: frozenset[str]) -> None:
        self.reference = reference
        self.inner = reference.app
        self.choices = choices

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        if scope["path"] == CLOCK_ADVANCE and CLOCK_204 in self.choices:
            await self._clock(scope, receive, send)
            return
        found = APP_PREFIX.match(scope["path"])
        if found is None:
            await self.inner(scope, receive, send)
            return
        method, path = scope["method"], found["path"]
        body = await _read_body(receive)
        early = self._answer_early(scope, method, path, found["account"], found["app"])
        if early is not None:
            await _send_json(send, *early)
            return
        dropped = put_as_patch(path) if method == "PUT" and PUT_SERVED in self.choices else None
        if dropped is not None:
            scope = {**scope, "method": "PATCH"}
            body = _without(body, dropped)
        status, headers, raw = await _call(self.inner, scope, body)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if parsed is None:
            await _send(send, status, headers, raw)
            return
        status, parsed = rewrite_response(method, path, status, parsed, self.choices)
        await _send_json(send, status, parsed, headers)

    def _answer_early(self, scope: Scope, method: str, path: str, account: str, app: str) -> tuple[int, Any] | None:
        if method != "POST":
            return None
        kick_all, add = KICK_ALL.match(path), ADD_PARTICIPANT.match(path)
        if not (kick_all or add):
            return None
        tenant = self._tenant(scope, account, app)
        if tenant is None:
            return None  # the reference answers the auth error
        if kick_all and KICK_ALL_IDLE in self.choices:
            meeting = self.reference.storage.get("meetings", kick_all["meeting"], scope=tenant)
            if meeting is not None and self.reference.sessions.live_session_doc(tenant, meeting["id"]) is None:
                # CF KickAllParticipants documents only 200; with nobody to kick, 200 and a
                # count of 0 (DIV 17: the docs are silent on "no live session").
                return 200, {"success": True, "data": {"kicked_participants_count": 0}}
        if add and ADD_TO_INACTIVE in self.choices:
            meeting = self.reference.storage.get("meetings", add["meeting"], scope=tenant)
            if meeting is not None and meeting.get("status") == "INACTIVE":
                # CF realtimekit_Meeting.status: "Users will not be able to join an INACTIVE
                # meeting"; refusing to add one is a refused join, earlier (issue 11).
                return 400, {
                    "success": False,
                    "error": {"code": 400, "message": "meeting is INACTIVE; participants cannot be added"},
                }
        return None

    def _tenant(self, scope: Scope, account: str, app: str) -> str | None:
        tokens = self.reference.api.tokens
        try:
            token = tokens.identify(_header(scope, b"authorization"))
            return tokens.authorize(token, account, app, write=True)
        except AuthError:
            return None

    async def _clock(self, scope: Scope, receive: Any, send: Any) -> None:
        body = await _read_body(receive)
        status, headers, raw = await _call(self.inner, scope, body)
        if status == 200:
            # The suite's README never says what the test-clock hook answers; any 2xx is
            # success (issue 11, F2). This one says nothing.
            await _send(send, 204, [], b"")
            return
        await _send(send, status, headers, raw)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _without(body: bytes, fields: tuple[str, ...]) -> bytes:
    if not fields:
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if not isinstance(parsed, dict):
        return body
    return json.dumps({k: v for k, v in parsed.items() if k not in fields}).encode()


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _call(app: Any, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the inner app on a buffered request; return its whole answer."""
    sent = False
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def capture(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await app({**scope, "headers": headers}, receive, capture)
    return start["status"], list(start.get("headers", [])), b"".join(chunks)


async def _send_json(send: Any, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    kept = [(k, v) for k, v in headers or [] if k.lower() != b"content-type"]
    await _send(send, status, [*kept, (b"content-type", b"application/json")], json.dumps(body).encode())


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    kept = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    kept.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body})
