"""The endpoint the implementation delivers webhooks to during a run.

A tiny ASGI app served by uvicorn as a task on the suite's own event loop. Each test takes
a channel (its own URL path) so tests running side by side never see each other's
deliveries; a channel can also script its answers (500, 404, stall) to exercise retries.

    async with WebhookReceiver(redactor=redactor) as rx:
        hooks = rx.channel("kick-all")
        await api.create_webhook("kick-all", hooks.url, ["meeting.ended"])
        ...
        delivery = await hooks.wait_for("meeting.ended", timeout=5)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conformance.errors import ConfigError, TargetTimeout, UnexpectedResponse
from conformance.evidence_log import MAX_BODY_CHARS, EvidenceLog, current_check
from conformance.helper_server import HelperServer
from conformance.redaction import Redactor

__all__ = [
    "MAX_STALL_SECONDS",
    "Answer",
    "Channel",
    "Delivery",
    "Predicate",
    "WebhookReceiver",
    "event_is",
]

MAX_STALL_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 2.0
STARTUP_TIMEOUT_SECONDS = 5.0
MAX_BODY_BYTES = 4 * 1024 * 1024  # far above any real payload; refuses a runaway sender

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one delivery: a status, optionally after holding the
    request open (to look like a slow endpoint)."""

    status: int = 200
    stall_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 599:
            raise ValueError(f"status must be 200..599, got {self.status}")
        if not 0 <= self.stall_seconds <= MAX_STALL_SECONDS:
            raise ValueError(f"stall_seconds must be 0..{MAX_STALL_SECONDS:g}")


@dataclass
class Delivery:
    seq: int  # receiver-wide arrival order
    channel: str | None  # None: not under /c/<name>
    path: str
    headers: dict[str, str]  # lower-case names, redacted values
    body: bytes  # exactly as received; signatures are over these bytes
    json: Any  # parsed body, or None when it is not JSON
    received_monotonic: float
    received_at: str  # ISO 8601, UTC
    status: int  # what the receiver answered (after any stall)
    stall_seconds: float
    signature_valid: bool | None  # None: no public key was set
    # Set when the sender hung up while we stalled: how long it waited for us.
    sender_gave_up_after: float | None = None

    @property
    def event(self) -> str | None:
        value = self.json.get("event") if isinstance(self.json, dict) else None
        return value if isinstance(value, str) else None

    @property
    def uuid(self) -> str | None:
        return self.headers.get("rtk-uuid")

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("rtk-webhook-id")

    def describe(self) -> str:
        return self.event or f"non-JSON POST {self.path}"


Predicate = Callable[[Delivery], bool]


def event_is(name: str) -> Predicate:
    """Predicate: the delivery's payload has `"event": name`."""
    return lambda d: d.event == name


def _predicate(match: str | Predicate, what: str | None) -> tuple[Predicate, str]:
    if isinstance(match, str):
        return event_is(match), what or f"{match} delivery"
    return match, what or "matching delivery"


class Channel:
    """One URL on the receiver whose deliveries are kept apart from every other's."""

    def __init__(self, name: str, url: str, check: str | None) -> None:
        self.name = name
        self.url = url
        self.check = check  # evidence for its deliveries is filed under this check
        self.deliveries: list[Delivery] = []
        self._script: deque[Answer] = deque()
        self._changed = asyncio.Condition()

    def script(self, *answers: Answer) -> Channel:
        """Answer the next deliveries with these, in order; then 200 again."""
        self._script.extend(answers)
        return self

    async def wait_for(self, match: str | Predicate, timeout: float, what: str | None = None) -> Delivery:
        """The first delivery (already here or yet to come) that matches.

        `match` is an event name or a predicate. Raises TargetTimeout naming what did
        arrive when nothing matches within `timeout` seconds.
        """
        return (await self.wait_for_count(match, 1, timeout, what))[0]

    async def wait_for_count(
        self, match: str | Predicate, n: int, timeout: float, what: str | None = None
    ) -> list[Delivery]:
        """The first `n` matching deliveries, waiting up to `timeout` seconds for them."""
        predicate, what = _predicate(match, what)

        def matching() -> list[Delivery]:
            return [d for d in self.deliveries if predicate(d)]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= n)
        except TimeoutError:
            got = len(matching())
            lead = f"no {what}" if n == 1 else f"only {got} of {n} expected ({what})"
            raise TargetTimeout(f"{lead} within {timeout:.1f} s at {self.url} (received: {self._summary()})") from None
        return matching()[:n]

    async def assert_none(self, match: str | Predicate, within: float, what: str | None = None) -> None:
        """Fail if a matching delivery is here or arrives within `within` seconds.

        Waiting out the whole window is the point of a negative check: only silence for
        all of it passes. A matching delivery ends the wait at once, as a failure.
        """
        predicate, what = _predicate(match, what)
        opened = time.monotonic()
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: any(map(predicate, self.deliveries)))
        except TimeoutError:
            return
        offender = next(d for d in self.deliveries if predicate(d))
        when = offender.received_monotonic - opened
        timing = f"{when:.1f} s into" if when >= 0 else "before"
        raise UnexpectedResponse(
            f"expected no {what} at {self.url} within {within:.1f} s, but got "
            f"{offender.describe()} (delivery #{offender.seq}, {timing} the window)"
        )

    def _next_answer(self) -> Answer:
        return self._script.popleft() if self._script else Answer()

    async def _add(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        await self._notify()

    async def _notify(self) -> None:
        """Wake waiters: a delivery arrived or one of them changed (sender hung up)."""
        async with self._changed:
            self._changed.notify_all()

    def _summary(self) -> str:
        return ", ".join(d.describe() for d in self.deliveries) or "nothing"


class WebhookReceiver:
    def __init__(
        self,
        listen: str = "127.0.0.1:0",
        public_url: str | None = None,
        *,
        redactor: Redactor | None = None,
        evidence: EvidenceLog | None = None,
    ) -> None:
        self.listen = listen
        self.public_url = public_url.rstrip("/") if public_url else None
        self.port: int | None = None
        self.redactor = redactor or (evidence.redactor if evidence else Redactor())
        self.evidence = evidence
        self.deliveries: list[Delivery] = []
        self._channels: dict[str, Channel] = {}
        self._default: Channel | None = None
        self._seq = itertools.count(1)
        self._public_key: rsa.RSAPublicKey | None = None
        self._server: HelperServer | None = None
        self._stopping = asyncio.Event()

    async def __aenter__(self) -> WebhookReceiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        host, port = _parse_listen(self.listen)
        # Binding the socket ourselves tells us the real port before anything is served.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(
            family, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )  # IPPROTO_TCP: asyncio then turns Nagle off
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ConfigError(f"webhook receiver cannot listen on {self.listen}: {exc.strerror or exc}") from None
        self.port = sock.getsockname()[1]
        self._stopping = asyncio.Event()  # fresh, in case this receiver ran before
        if self.public_url is None:
            self.public_url = f"http://{_url_host(host)}:{self.port}"

        self._server = await HelperServer.launch(self._app, sock, STARTUP_TIMEOUT_SECONDS)
        if self._server is None:
            raise ConfigError(f"webhook receiver on {self.listen} did not start")

    async def stop(self) -> None:
        """Stop serving; returns within about STOP_TIMEOUT_SECONDS whatever is in flight."""
        if self._server is None:
            return
        self._stopping.set()  # ends any stalled answers now
        await self._server.halt(STOP_TIMEOUT_SECONDS)
        self._server = None

    # -- channels and keys ----------------------------------------------------------------

    def channel(self, name: str | None = None) -> Channel:
        """The channel at {public_url}/c/{name}; a fresh unique one when name is None."""
        if name is None:
            name = f"ch-{secrets.token_hex(6)}"
        if not _CHANNEL_NAME.match(name):
            raise ValueError(f"channel name {name!r}: use letters, digits, '.', '_', '~', '-'")
        if name not in self._channels:
            self._channels[name] = Channel(name, f"{self._base()}/c/{name}", current_check.get())
        return self._channels[name]

    @property
    def default(self) -> Channel:
        """Deliveries to any path outside /c/<name>."""
        if self._default is None:
            self._default = Channel("", self._base(), None)
        return self._default

    def set_public_key(self, pem: str) -> None:
        """Verify `rtk-signature` on later deliveries with this RSA key (PEM, SPKI)."""
        try:
            key = serialization.load_pem_public_key(pem.encode())
        except ValueError as exc:
            raise UnexpectedResponse(f"the webhook public key is not a PEM public key: {exc}") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise UnexpectedResponse(
                f"the webhook public key is {type(key).__name__}, expected an RSA key "
                "(signatures are RSASSA-PKCS1-v1_5 with SHA-256)"
            )
        self._public_key = key

    def _base(self) -> str:
        if self.public_url is None:
            raise RuntimeError("start the receiver first: its URL is known once it is bound")
        return self.public_url

    def _verify(self, body: bytes, signature: str | None) -> bool | None:
        key = self._public_key
        if key is None:
            return None
        if not signature:
            return False
        try:
            raw = base64.b64decode(signature.strip(), validate=True)
            key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
        except (binascii.Error, ValueError, InvalidSignature):
            return False
        return True

    # -- the ASGI app ---------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _respond(send, 405)
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413)
            return

        raw_headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name, text = key.decode("latin-1").lower(), value.decode("latin-1")
            raw_headers[name] = f"{raw_headers[name]}, {text}" if name in raw_headers else text
        path: str = scope["path"]
        name = path[3:] if path.startswith("/c/") else None
        if name is not None and _CHANNEL_NAME.match(name):
            channel = self.channel(name)  # also when the test has not asked for it yet
        else:
            channel, name = self.default, None
        answer = channel._next_answer()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None

        delivery = Delivery(
            seq=next(self._seq),
            channel=name,
            path=path,
            headers=self.redactor.redact_headers(raw_headers),
            body=body,
            json=parsed,
            received_monotonic=time.monotonic(),
            received_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            status=answer.status,
            stall_seconds=answer.stall_seconds,
            signature_valid=self._verify(body, raw_headers.get("rtk-signature")),
        )
        self.deliveries.append(delivery)
        self._record(delivery, channel.check)
        await channel._add(delivery)

        if answer.stall_seconds:
            await self._stall(receive, delivery, answer.stall_seconds)
            if delivery.sender_gave_up_after is not None:
                await channel._notify()
        await _respond(send, answer.status)

    async def _stall(self, receive: Receive, delivery: Delivery, seconds: float) -> None:
        """Hold the request open for `seconds`, or until the sender hangs up, or we stop.

        Sitting out the time is the scripted behaviour itself, so a bounded wait is right.
        """
        started = time.monotonic()
        hung_up = asyncio.create_task(_wait_disconnect(receive))
        stopping = asyncio.create_task(self._stopping.wait())
        done, pending = await asyncio.wait({hung_up, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if hung_up in done:
            delivery.sender_gave_up_after = time.monotonic() - started

    def _record(self, delivery: Delivery, check: str | None) -> None:
        if self.evidence is None:
            return
        text = delivery.body.decode("utf-8", errors="replace")[:MAX_BODY_CHARS]
        self.evidence.record_event(
            "webhook.delivery",
            {
                "seq": delivery.seq,
                "channel": delivery.channel,
                "path": delivery.path,
                "received_at": delivery.received_at,
                "headers": delivery.headers,
                "body": delivery.json if delivery.json is not None else text,
                "answered": delivery.status,
                "stall_seconds": delivery.stall_seconds,
                "signature_valid": delivery.signature_valid,
            },
            check=check,
        )


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _respond(send: Send, status: int) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"webhooks.listen: expected host:port such as 127.0.0.1:0, got {listen!r}")
    return host, int(port)


def _url_host(host: str) -> str:
    # A wildcard bind is reachable on loopback; IPv6 literals need brackets in a URL.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"[{host}]" if ":" in host else host
