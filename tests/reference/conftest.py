"""Fixtures for the reference implementation's own tests.

Everything here talks to a real reference server (`ThreadedServer`, its own thread and event
loop, 127.0.0.1:<free port>) over real HTTP and WebSocket connections. Time-dependent
behaviour (keep-alive, host grace, webhook backoff) is driven through the server's opt-in
test clock, never by waiting real minutes.

- `srv`: one server per test module; a module may set `SERVER_SETTINGS = {...}` to pass
  extra `ReferenceSettings` fields. Tests sharing it each create their own meetings, and
  assertions about webhooks filter by meeting, because webhooks are app-wide.
- `api`: REST helper bound to `srv` (admin token unless told otherwise). Webhooks it creates
  are deleted afterwards so later tests' events do not go to a stopped receiver.
- `driver`: a `WebSocketDriver` on `srv`; `room`: a fresh meeting plus a way to join people.
- `receiver`: a small webhook receiver on the test's own loop, recording every delivery and
  answering 200 unless a channel is told otherwise.
- Every test also fails if the server logged an error (an unhandled exception) meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import logging
import re
import secrets
import socket
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.drivers.base import Participant
from conformance.drivers.websocket import WebSocketDriver
from conformance.helper_server import HelperServer
from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer
from conformance.resources import openapi_document

HOST = "group_call_host"
PARTICIPANT = "group_call_participant"
# Backoffs far longer than any test runs, so a retry happens only when the test clock says so.
DEFAULT_SETTINGS: dict[str, Any] = {
    "test_clock": True,
    "webhook_backoff_seconds": (30.0, 60.0, 120.0),
    "webhook_timeout_seconds": 1.0,
}
WAIT = 5.0  # deadline for anything that should happen "at once"
STALL_SECONDS = 1.0  # a stalled webhook answer; the server's timeout must be shorter


# -- servers ---------------------------------------------------------------------------------


class ServerErrors(logging.Handler):
    """Collects ERROR records from uvicorn (the reference's and the test receiver's) and
    from the reference's own loggers: an unhandled exception anywhere fails the test."""

    LOGGERS = ("uvicorn.error", "conformance.reference")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def attach(self) -> None:
        # uvicorn re-applies its logging config whenever a server is configured, which drops
        # foreign handlers; start_server() therefore attaches again after every start.
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.handlers:
                logger.addHandler(self)


SERVER_ERRORS = ServerErrors()


def start_server(**overrides: Any) -> ThreadedServer:
    server = ThreadedServer(ReferenceSettings(**{**DEFAULT_SETTINGS, **overrides})).start()
    SERVER_ERRORS.attach()
    return server


@pytest.fixture(scope="module")
def srv(request: pytest.FixtureRequest) -> Iterator[ThreadedServer]:
    server = start_server(**getattr(request.module, "SERVER_SETTINGS", {}))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_server_errors() -> Iterator[None]:
    SERVER_ERRORS.attach()
    seen = len(SERVER_ERRORS.records)
    yield
    new = SERVER_ERRORS.records[seen:]
    assert not new, "the server logged errors: " + "; ".join(f"{r.name}: {r.getMessage()}" for r in new)


async def on_server(srv: ThreadedServer, fn: Callable[[], Any]) -> Any:
    """Run fn (sync or async) on the server's loop without blocking the test's loop."""
    assert srv.loop is not None

    async def invoke() -> Any:
        result = fn()
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(invoke(), srv.loop))


async def settle(srv: ThreadedServer) -> None:
    """Return once every timer already due on the server has fired.

    A barrier timer due "now" goes through the same scheduler; timers due earlier are
    started before it and their state changes are synchronous, so once the barrier runs,
    they are done. Lets a test assert what has NOT happened after advancing the clock
    without waiting out a window.
    """
    assert srv.reference is not None
    ref = srv.reference

    async def barrier() -> None:
        done = asyncio.get_running_loop().create_future()

        async def wake() -> None:
            if not done.done():
                done.set_result(None)

        ref.scheduler.call_at(f"test-barrier:{id(done)}", ref.clock.now(), wake)
        await asyncio.wait_for(done, WAIT)
        await asyncio.sleep(0)  # let tasks started alongside the barrier finish their step

    await on_server(srv, barrier)


# -- REST ------------------------------------------------------------------------------------

_ADMIN = object()


class Api:
    """REST calls against one reference server, answering httpx responses."""

    def __init__(self, srv: ThreadedServer, client: httpx.AsyncClient) -> None:
        assert srv.reference is not None and srv.endpoints is not None
        self.srv = srv
        self.http = client
        self.creds = srv.reference.settings.credentials
        self.origin = srv.endpoints.origin
        self.base_url = srv.endpoints.base_url
        self.prefix = self.app_prefix(self.creds.account_id, self.creds.app_id)
        self.created_webhooks: list[str] = []

    def app_prefix(self, account_id: str, app_id: str) -> str:
        return f"{self.base_url}/accounts/{account_id}/realtime/kit/{app_id}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: Any = _ADMIN,
        prefix: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """`path` is relative to the app prefix unless it starts with http."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is _ADMIN:
            token = self.creds.admin_token
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else (prefix or self.prefix) + path
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    async def data(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Call, assert the status and the success envelope, return `data`."""
        response = await self.request(method, path, **kw)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        body = response.json()
        assert body["success"] is True, body
        return body["data"]

    # resources

    async def create_meeting(self, **fields: Any) -> dict[str, Any]:
        return await self.data("POST", "/meetings", 201, json=fields)

    async def meeting(self, meeting_id: str) -> dict[str, Any]:
        return await self.data("GET", f"/meetings/{meeting_id}")

    async def add_participant(
        self,
        meeting_id: str,
        preset: str = PARTICIPANT,
        custom_id: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "custom_participant_id": custom_id or f"cp-{secrets.token_hex(4)}",
            "preset_name": preset,
            "name": name,
        }
        return await self.data("POST", f"/meetings/{meeting_id}/participants", 201, json=body)

    async def session(self, session_id: str) -> dict[str, Any]:
        return await self.data("GET", f"/sessions/{session_id}")

    async def sessions_of(self, meeting_id: str) -> list[dict[str, Any]]:
        data = await self.data("GET", "/sessions", params={"associated_id": meeting_id, "per_page": 100})
        return data["sessions"]

    async def active_session(self, meeting_id: str) -> httpx.Response:
        return await self.get(f"/meetings/{meeting_id}/active-session")

    async def kick_all(self, meeting_id: str, **kw: Any) -> httpx.Response:
        return await self.post(f"/meetings/{meeting_id}/active-session/kick-all", **kw)

    async def create_webhook(
        self, url: str, events: list[str], *, enabled: bool = True, name: str | None = None
    ) -> dict[str, Any]:
        body = {"name": name or f"wh-{secrets.token_hex(3)}", "url": url, "events": events, "enabled": enabled}
        webhook = await self.data("POST", "/webhooks", 201, json=body)
        self.created_webhooks.append(webhook["id"])
        return webhook

    async def public_key(self) -> str:
        response = await self.http.get(f"{self.origin}/.well-known/webhooks.json")
        assert response.status_code == 200, response.text
        return response.json()["data"]["publicKey"]

    # time

    async def advance(self, seconds: float) -> None:
        """Move the server clock forward; returns once every timer that became due has fired."""
        response = await self.post(f"{self.origin}/_conformance/clock/advance", json={"seconds": seconds})
        assert response.status_code == 200, response.text
        await settle(self.srv)

    async def now(self) -> float:
        """The server clock (seconds since the epoch), read through the test-clock endpoint."""
        response = await self.get(f"{self.origin}/_conformance/clock", token=None)
        assert response.status_code == 200, response.text
        iso = response.json()["data"]["now"]
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

    async def cleanup(self) -> None:
        for webhook_id in self.created_webhooks:
            with contextlib.suppress(httpx.HTTPError):
                await self.delete(f"/webhooks/{webhook_id}")
        self.created_webhooks.clear()


@pytest.fixture
async def api(srv: ThreadedServer) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        helper = Api(srv, client)
        yield helper
        await helper.cleanup()


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The documented error envelope, `code` equal to the HTTP status."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    body = response.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == status, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]


# -- participants ----------------------------------------------------------------------------


@pytest.fixture
async def driver(srv: ThreadedServer) -> AsyncIterator[WebSocketDriver]:
    assert srv.endpoints is not None
    async with WebSocketDriver(srv.endpoints.realtime_url) as d:
        yield d


class Room:
    """One meeting, and joining people to it through the realtime protocol."""

    def __init__(self, api: Api, driver: WebSocketDriver, meeting: dict[str, Any]) -> None:
        self.api = api
        self.driver = driver
        self.meeting = meeting
        self.id: str = meeting["id"]
        self.registered: dict[str, dict[str, Any]] = {}  # label -> REST participant (with token)

    async def register(self, label: str, preset: str = PARTICIPANT) -> dict[str, Any]:
        doc = await self.api.add_participant(self.id, preset, custom_id=label, name=label.title())
        self.registered[label] = doc
        return doc

    async def join(self, label: str, preset: str = PARTICIPANT) -> Participant:
        """Register `label` (first time only) and join it on a new connection."""
        doc = self.registered.get(label) or await self.register(label, preset)
        participant = await self.driver.participant(label)
        await participant.join(doc["token"])
        return participant

    async def session(self) -> dict[str, Any]:
        response = await self.api.active_session(self.id)
        assert response.status_code == 200, response.text
        return response.json()["data"]


@pytest.fixture
async def room(api: Api, driver: WebSocketDriver) -> Room:
    return Room(api, driver, await api.create_meeting(title="reference test"))


async def new_room(api: Api, driver: WebSocketDriver, **fields: Any) -> Room:
    return Room(api, driver, await api.create_meeting(**fields))


async def close_code(participant: Participant, timeout: float = WAIT) -> int | None:
    """Wait until the server has closed this participant's WebSocket; its close code."""
    ws = participant._ws  # type: ignore[attr-defined]  # the driver keeps no public handle
    assert ws is not None
    await asyncio.wait_for(ws.wait_closed(), timeout)
    return ws.close_code


# -- webhooks --------------------------------------------------------------------------------


@dataclass
class Delivery:
    seq: int
    channel: str
    headers: dict[str, str]
    body: bytes
    answered: int
    stalled: bool = False

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event(self) -> str | None:
        return self.json.get("event")

    @property
    def uuid(self) -> str | None:
        return self.headers.get("rtk-uuid")

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("rtk-webhook-id")

    @property
    def meeting_id(self) -> str | None:
        payload = self.json
        return (payload.get("meeting") or {}).get("id") or (payload.get("recording") or {}).get("meetingId")


class Receiver:
    """Records every POST; `/<channel>` keeps deliveries apart, each channel answers 200
    unless scripted (`script(channel, 500, 500)`: the next answers) or set (`always`)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.port: int | None = None
        self._seq = itertools.count(1)
        self._script: dict[str, deque[int | str]] = {}
        self._always: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._server: HelperServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = HelperServer(config)  # Ctrl-C stays pytest's (no signal handlers)
        started = await self._server.start(sock, WAIT)
        self._task = self._server.task
        if not started:
            await self._server.wait()  # raises what went wrong, if it stopped
            raise TimeoutError(f"the webhook receiver did not start within {WAIT}s")

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        # uvicorn looks at should_exit only every 0.1 s; interrupting its idle loop and
        # running the same shutdown directly saves that on every test.
        self._stopping.set()
        self._server.should_exit = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.shutdown(), 3)

    def url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.port}/{channel}"

    def script(self, channel: str, *answers: int | str) -> None:
        """The next answers on `channel`: a status, or "stall" (hold the request open
        for STALL_SECONDS, longer than the server's webhook timeout, then answer 200)."""
        self._script.setdefault(channel, deque()).extend(answers)

    def always(self, channel: str, status: int) -> None:
        self._always[channel] = status

    def on(self, channel: str, event: str | None = None, meeting: str | None = None) -> list[Delivery]:
        return [
            d
            for d in self.deliveries
            if d.channel == channel
            and (event is None or d.event == event)
            and (meeting is None or d.meeting_id == meeting)
        ]

    async def wait(
        self,
        channel: str,
        event: str | None = None,
        meeting: str | None = None,
        *,
        count: int = 1,
        timeout: float = WAIT,
    ) -> list[Delivery]:
        """The first `count` matching deliveries, or fail at the deadline."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self.on(channel, event, meeting)) >= count)
        except TimeoutError:
            got = [d.event for d in self.on(channel)]
            raise AssertionError(
                f"{channel}: wanted {count} x {event or 'any'} (meeting {meeting}) within {timeout}s; got {got}"
            ) from None
        return self.on(channel, event, meeting)[:count]

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        channel = scope["path"].strip("/")
        queued = self._script.get(channel)
        answer = queued.popleft() if queued else self._always.get(channel, 200)
        status = 200 if answer == "stall" else int(answer)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        delivery = Delivery(next(self._seq), channel, headers, b"".join(chunks), status)
        delivery.stalled = answer == "stall"
        self.deliveries.append(delivery)
        async with self._changed:
            self._changed.notify_all()
        if answer == "stall":  # not answering in time is the scripted behaviour
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), STALL_SECONDS)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver()
    await rx.start()
    yield rx
    await rx.stop()


def signature_valid(public_pem: str, body: bytes, signature: str | None) -> bool:
    """RSA-SHA256 PKCS#1 v1.5 over the raw body, base64 in `rtk-signature`."""
    key = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    if not signature:
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


# -- the OpenAPI document --------------------------------------------------------------------

DOC_URI = "urn:realtimekit-openapi-tests"


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOC_URI, resource)


def pointer(*parts: str) -> str:
    """A JSON pointer into the document from raw path segments."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def validator_at(json_pointer: str) -> Draft202012Validator:
    """A validator for the schema at that pointer of the document (refs resolved)."""
    return Draft202012Validator(
        {"$ref": f"{DOC_URI}#{json_pointer}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def schema_errors(json_pointer: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator_at(json_pointer).iter_errors(instance)
    ]


def assert_event_schema(delivery: Delivery) -> None:
    """A webhook payload matches the document's schema for its event."""
    schemas = {
        "meeting.started": "MeetingStartedEvent",
        "meeting.ended": "MeetingEndedEvent",
        "meeting.participantJoined": "ParticipantJoinedEvent",
        "meeting.participantLeft": "ParticipantLeftEvent",
        "recording.statusUpdate": "RecordingStatusUpdateEvent",
    }
    name = schemas[str(delivery.event)]
    errors = schema_errors(pointer("components", "schemas", name), delivery.json)
    assert not errors, f"{delivery.event} payload does not match {name}: {errors}"


# -- Cloudflare's official description -------------------------------------------------------

OFFICIAL = Path(__file__).resolve().parents[2] / "openapi" / "cloudflare-realtimekit-openapi.yaml"


@cache
def official() -> Any:
    return schemathesis.openapi.from_path(str(OFFICIAL))


@cache
def templates() -> list[tuple[re.Pattern[str], str]]:
    """Official path templates as patterns, literal segments first (`/webhooks/all` before
    `/webhooks/{webhook_id}`)."""
    paths = sorted(official().raw_schema["paths"], key=lambda p: p.count("{"))
    return [(re.compile("^/client/v4" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in paths]


def official_operation(method: str, path: str) -> Any:
    for pattern, template in templates():
        if pattern.match(path):
            return official()[template][method]
    raise AssertionError(f"{method} {path} is no operation of Cloudflare's description")
