"""The fault registry and the tools faults are built with.

Every fault names the requirement(s) whose checks must catch it. A fault is applied from
outside: it wraps methods on one built `Reference` instance (or wraps its ASGI app), so the
reference implementation itself carries no test-only branches. `conformance serve --fault
NAME` and `conformance selftest` switch them on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.reference.app import Reference
    from conformance.reference.sessions import Connection


@dataclass(frozen=True)
class Fault:
    name: str
    requirements: tuple[str, ...]
    description: str
    apply: Callable[[Reference], None]
    # The run phase whose checks are meant to catch it (the selftest runs just that phase
    # unless --full): a fault in faults/fuzz.py is the fuzz phase's, and so on.
    phase: str = "scenarios"
    # Where a fuzz fault's wrong answer shows (operation ids of openapi/realtimekit.yaml): its
    # selftest run fuzzes only these. A wrong list leaves the fault uncaught, never a pass.
    operations: tuple[str, ...] = ()


FAULTS: dict[str, Fault] = {}


def fault(
    name: str, *requirements: str, operations: tuple[str, ...] = ()
) -> Callable[[Callable[[Reference], None]], Callable[[Reference], None]]:
    def register(fn: Callable[[Reference], None]) -> Callable[[Reference], None]:
        doc = " ".join((fn.__doc__ or "").split())
        area = fn.__module__.rsplit(".", 1)[-1]
        FAULTS[name] = Fault(
            name, requirements, doc, fn, area if area in ("fuzz", "contracts", "model") else "scenarios", operations
        )
        return fn

    return register


def apply_faults(reference: Reference, names: tuple[str, ...] | list[str]) -> None:
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(sorted(FAULTS))}")
    for name in names:
        FAULTS[name].apply(reference)


def patch(obj: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(obj, name)
    setattr(obj, name, wraps(original)(make(original)))


class RewritingConnection:
    """A participant connection whose outgoing messages pass through `rewrite` (None drops)."""

    def __init__(self, inner: Connection, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        self.inner = inner
        self.rewrite = rewrite

    def send(self, message: dict[str, Any]) -> None:
        changed = self.rewrite(dict(message))
        if changed is not None:
            self.inner.send(changed)

    def close(self, code: int = 1000) -> None:
        self.inner.close(code)


def rewrite_client_messages(ref: Reference, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    patch(
        ref.sessions,
        "join",
        lambda join: (
            lambda participant, connection, reply_to=None: join(
                participant, RewritingConnection(connection, rewrite), reply_to
            )
        ),
    )


def rewrite_json_responses(ref: Reference, rewrite: Callable[[str, int, Any], tuple[int, bytes, str] | None]) -> None:
    """Wrap the ASGI app: `rewrite(path, status, body_json)` may replace status/body/content-type."""
    inner = ref.app

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await _emit(scope["path"], start, b"".join(chunks), send, rewrite)
            else:
                await send(message)

        await inner(scope, receive, capture)

    ref.app = app  # type: ignore[assignment]


async def _emit(
    path: str,
    start: dict[str, Any],
    body: bytes,
    send: Any,
    rewrite: Callable[[str, int, Any], tuple[int, bytes, str] | None],
) -> None:
    status = start["status"]
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
    content_type = dict(start.get("headers", [])).get(b"content-type", b"application/json").decode()
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    replaced = rewrite(path, status, parsed) if parsed is not None else None
    if replaced is not None:
        status, body, content_type = replaced
    headers += [(b"content-length", str(len(body)).encode()), (b"content-type", content_type.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def dumps(data: Any) -> bytes:
    return json.dumps(data).encode()


def filter_emits(ref: Reference, change: Callable[[str, dict[str, Any]], list[tuple[str, dict[str, Any]]]]) -> None:
    d = ref.dispatcher

    def make(emit: Callable[..., None]) -> Callable[..., None]:
        def filtered(scope: str, event: str, payload: dict[str, Any]) -> None:
            for name, body in change(event, payload):
                emit(scope, name, body)

        return filtered

    patch(d, "emit", make)
