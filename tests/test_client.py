"""The API client: envelopes, messages, retries, rate limiting, failures, evidence."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from conformance.client import ApiClient, current_check
from conformance.config import RunConfig, load_config
from conformance.errors import (
    CheckNotRunnable,
    TargetTimeout,
    TargetUnreachable,
    UnexpectedResponse,
)
from conformance.evidence_log import EvidenceLog, curl
from conformance.helper_server import HelperServer
from conformance.redaction import Redactor
from conformance.request_budget import RateLimiter

TOKEN = "admin-token-0123456789"
PARTICIPANT_TOKEN = "participant-jwt-abcdef123"
PREFIX = "/client/v4/accounts/acc/realtime/kit/app"


def make_config(base_url: str, **overrides: object) -> RunConfig:
    env = {
        "RTKC_BASE_URL": base_url,
        "RTKC_ACCOUNT_ID": "acc",
        "RTKC_APP_ID": "app",
        "RTKC_ADMIN_TOKEN": TOKEN,
    }
    return load_config(None, env, overrides)


def make_client(
    config: RunConfig,
    transport: httpx.AsyncBaseTransport | None = None,
    limiter: RateLimiter | None = None,
) -> ApiClient:
    evidence = EvidenceLog(Redactor(config.secrets()))
    return ApiClient(config, evidence, limiter or RateLimiter(1000, 1), transport=transport)


# -- a real server on a real socket --------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    port = sock.getsockname()[1]
    server = await HelperServer.launch(app, sock, 5)
    assert server is not None, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{port}/client/v4"
    finally:
        await server.halt(5)


def api_app() -> Starlette:
    calls = {"throttled": 0}

    async def meeting(request: Request) -> Response:
        return JSONResponse(
            {
                "success": True,
                "data": {
                    "id": request.path_params["id"],
                    "seen_auth": request.headers.get("authorization"),
                },
            }
        )

    async def add_participant(request: Request) -> Response:
        body = await request.json()
        data = {"id": "p-1", "token": PARTICIPANT_TOKEN, **body}
        return JSONResponse({"success": True, "data": data}, status_code=201)

    async def kick_all(request: Request) -> Response:
        error = {"code": 500, "message": "session store unavailable " + "x" * 400}
        return JSONResponse({"success": False, "error": error}, status_code=500)

    async def throttled(request: Request) -> Response:
        calls["throttled"] += 1
        if calls["throttled"] <= 2:
            return JSONResponse(
                {"success": False, "error": {"code": 429, "message": "slow down"}},
                status_code=429,
                headers={"Retry-After": "0"},
            )
        return JSONResponse({"success": True, "data": {"calls": calls["throttled"]}})

    async def always_throttled(request: Request) -> Response:
        return PlainTextResponse("no", status_code=429, headers={"Retry-After": "0"})

    async def html(request: Request) -> Response:
        return PlainTextResponse("<html>oops</html>", media_type="text/html")

    return Starlette(
        routes=[
            Route(PREFIX + "/meetings/{id}", meeting),
            Route(PREFIX + "/meetings/{id}/participants", add_participant, methods=["POST"]),
            Route(PREFIX + "/meetings/{id}/active-session/kick-all", kick_all, methods=["POST"]),
            Route(PREFIX + "/throttled", throttled),
            Route(PREFIX + "/always-throttled", always_throttled),
            Route(PREFIX + "/html", html),
        ]
    )


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serve(api_app()) as url:
        yield url


async def test_success_envelope_over_a_real_socket(base_url: str) -> None:
    token = current_check.set("tests/test_client.py::check")
    try:
        async with make_client(make_config(base_url)) as api:
            response = await api.get_meeting("m-1")
    finally:
        current_check.reset(token)

    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.data == {"id": "m-1", "seen_auth": f"Bearer {TOKEN}"}
    assert not response.is_error_envelope()
    assert response.error_code is None
    assert response.expect(200, "read the meeting") is response

    exchange = api.evidence.for_check("tests/test_client.py::check")[0]
    assert exchange.url == base_url + "/accounts/acc/realtime/kit/app/meetings/m-1"
    assert exchange.request_headers["authorization"] == "[REDACTED]"
    assert TOKEN not in json.dumps(exchange.__dict__)
    assert exchange.status == 200


async def test_error_envelope_and_expect_message(base_url: str) -> None:
    async with make_client(make_config(base_url)) as api:
        response = await api.kick_all("m-1")

    assert response.status == 500
    assert response.is_error_envelope()
    assert response.error_code == 500
    assert response.data is None
    with pytest.raises(UnexpectedResponse) as info:
        response.expect(200, "end the live session")
    message = str(info.value)
    assert message.startswith(
        'POST /meetings/m-1/active-session/kick-all: expected 200 (end the live session), got 500: {"success":false,'
    )
    assert message.endswith(f"... [evidence {response.exchange_id}]")
    assert len(message) < 450  # body cut to 300 characters
    with pytest.raises(UnexpectedResponse, match="expected 200 or 204"):
        response.expect({204, 200}, "end the live session")


async def test_non_json_answer(base_url: str) -> None:
    async with make_client(make_config(base_url)) as api:
        response = await api.request("GET", "/html")
    assert response.json is None and response.data is None
    assert response.content_type == "text/html"
    assert not response.is_error_envelope()


async def test_429_is_retried_after_retry_after(base_url: str) -> None:
    async with make_client(make_config(base_url)) as api:
        response = await api.request("GET", "/throttled")
        assert response.status == 200
        assert response.data == {"calls": 3}
        assert api.stats.throttled == 2
        assert [x.status for x in api.evidence.exchanges] == [429, 429, 200]

        response = await api.request("GET", "/always-throttled")
        assert response.status == 429  # after 3 retries the 429 itself is the answer
        assert api.stats.throttled == 2 + 4
        assert api.stats.attempts == 3 + 4


async def test_connection_refused_is_target_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on `port` any more.
    async with make_client(make_config(f"http://127.0.0.1:{port}/client/v4")) as api:
        with pytest.raises(TargetUnreachable, match="cannot connect") as info:
            await api.get_meeting("m-1")
    exchange = api.evidence.get(info.value.exchange_id or "")
    assert exchange is not None and exchange.status is None and exchange.error


async def test_silent_server_is_target_timeout() -> None:
    release = asyncio.Event()

    async def accept_and_say_nothing(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await release.wait()
        w.close()

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = make_config(f"http://127.0.0.1:{port}/client/v4", **{"limits.request_timeout_seconds": 0.5})
    try:
        async with make_client(config) as api:
            started = time.monotonic()
            with pytest.raises(TargetTimeout) as info:
                await api.kick_all("m-1")
            elapsed = time.monotonic() - started
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    assert elapsed < 2.0
    assert "POST /meetings/m-1/active-session/kick-all: no complete answer within 0.5 s" in str(info.value)


async def test_evidence_is_redacted_and_reproducible(base_url: str) -> None:
    async with make_client(make_config(base_url)) as api:
        response = await api.add_participant("m-1", "alice", "host", name="Alice")
    assert response.status == 201
    assert response.data["token"] == PARTICIPANT_TOKEN  # the scenario still gets the token

    exchange = api.evidence.get(response.exchange_id)
    assert exchange is not None
    assert json.loads(exchange.response_body or "")["data"]["token"] == "[REDACTED]"
    har = json.dumps(api.evidence.to_har())
    assert TOKEN not in har and PARTICIPANT_TOKEN not in har
    assert json.loads(har)["log"]["version"] == "1.2"

    line = curl(exchange)
    assert '-H "Authorization: Bearer $RTK_API_TOKEN"' in line
    assert TOKEN not in line
    assert f"-X POST {base_url}/accounts/acc/realtime/kit/app/meetings/m-1/participants" in line
    assert '--data-raw \'{"custom_participant_id":"alice"' in line
    assert "-H 'content-type: application/json'" in line


# -- the rate limiter ---------------------------------------------------------------------


class FakeTime:
    """A clock that only moves when the limiter sleeps: waits are computed, never real."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_rate_limiter_never_waits_under_budget_then_paces() -> None:
    fake = FakeTime()
    limiter = RateLimiter(5, 10, clock=fake.clock, sleep=fake.sleep)
    for _ in range(5):
        await limiter.acquire()
    assert fake.sleeps == []

    for _ in range(10):
        await limiter.acquire()
    assert fake.sleeps == pytest.approx([2.0] * 10)  # 5 per 10 s = one every 2 s
    assert limiter.stats.acquired == 15
    assert limiter.stats.waits == 10
    assert limiter.stats.waited_seconds == pytest.approx(20.0)

    fake.now += 100  # idle time refills the bucket, but only up to its size
    for _ in range(5):
        await limiter.acquire()
    assert len(fake.sleeps) == 10


async def test_client_waits_for_the_limiter_before_every_attempt() -> None:
    fake = FakeTime()
    limiter = RateLimiter(2, 10, clock=fake.clock, sleep=fake.sleep)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"success": True}))
    async with make_client(make_config("http://t.test/client/v4"), transport, limiter) as api:
        await asyncio.gather(*(api.list_presets() for _ in range(6)))
    assert limiter.stats.acquired == 6
    assert fake.sleeps == pytest.approx([5.0] * 4)


# -- addressing and helpers (no network) -----------------------------------------------------


def recording_transport(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("webhooks.json"):
            key = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
            return httpx.Response(200, json={"success": True, "data": {"publicKey": key}})
        return httpx.Response(200, json={"success": True, "data": {}})

    return httpx.MockTransport(handle)


async def test_helpers_use_the_documented_paths() -> None:
    seen: list[httpx.Request] = []
    config = make_config("http://t.test/client/v4", **{"time.control": "test-clock"})
    async with make_client(config, recording_transport(seen)) as api:
        await api.create_meeting(title="t")
        await api.get_meeting("m")
        await api.update_meeting("m", status="INACTIVE")
        await api.add_participant("m", "alice", "host")
        await api.delete_participant("m", "p")
        await api.get_active_session("m")
        await api.kick("m", participant_ids=["p"])
        await api.kick_all("m")
        await api.list_sessions(status="LIVE")
        await api.get_session("s")
        await api.list_session_participants("s")
        await api.start_recording("m")
        await api.get_recording("r")
        await api.recording_action("r", "stop")
        await api.get_active_recording("m")
        await api.create_preset("host", {"kick_participant": True})
        await api.delete_preset("pr")
        await api.list_presets()
        await api.create_webhook("w", "http://hook.test/c/x", ["meeting.ended"])
        await api.update_webhook("w1", enabled=False)
        await api.delete_webhook("w1")
        await api.list_webhooks()
        assert "BEGIN PUBLIC KEY" in await api.get_webhook_public_key()
        await api.advance_clock(900)

    app = "/client/v4/accounts/acc/realtime/kit/app"
    got = [(r.method, r.url.path.removeprefix(app)) for r in seen]
    assert got == [
        ("POST", "/meetings"),
        ("GET", "/meetings/m"),
        ("PATCH", "/meetings/m"),
        ("POST", "/meetings/m/participants"),
        ("DELETE", "/meetings/m/participants/p"),
        ("GET", "/meetings/m/active-session"),
        ("POST", "/meetings/m/active-session/kick"),
        ("POST", "/meetings/m/active-session/kick-all"),
        ("GET", "/sessions"),
        ("GET", "/sessions/s"),
        ("GET", "/sessions/s/participants"),
        ("POST", "/recordings"),
        ("GET", "/recordings/r"),
        ("PUT", "/recordings/r"),
        ("GET", "/recordings/active-recording/m"),
        ("POST", "/presets"),
        ("DELETE", "/presets/pr"),
        ("GET", "/presets"),
        ("POST", "/webhooks"),
        ("PATCH", "/webhooks/w1"),
        ("DELETE", "/webhooks/w1"),
        ("GET", "/webhooks"),
        ("GET", "/.well-known/webhooks.json"),
        ("POST", "/_conformance/clock/advance"),
    ]
    bodies = {(r.method, r.url.path.removeprefix(app)): r.content for r in seen}
    assert json.loads(bodies["POST", "/meetings/m/active-session/kick"]) == {
        "participant_ids": ["p"],
        "custom_participant_ids": [],
    }
    assert json.loads(bodies["PUT", "/recordings/r"]) == {"action": "stop"}
    assert json.loads(bodies["POST", "/recordings"]) == {"meeting_id": "m"}
    assert json.loads(bodies["POST", "/_conformance/clock/advance"]) == {"seconds": 900}
    assert seen[9 - 1].url.params["status"] == "LIVE"
    assert "authorization" not in seen[-2].headers  # the public key needs no token


async def test_addressing_and_missing_tokens() -> None:
    seen: list[httpx.Request] = []
    config = make_config("http://t.test/client/v4")
    async with make_client(config, recording_transport(seen)) as api:
        assert api.url_for("/meetings") == "http://t.test/client/v4/accounts/acc/realtime/kit/app/meetings"
        assert api.url_for("/accounts/x/realtime/kit/apps") == ("http://t.test/client/v4/accounts/x/realtime/kit/apps")
        assert api.url_for("https://elsewhere.test/a") == "https://elsewhere.test/a"
        assert api.app_path() == "/accounts/acc/realtime/kit/app"
        with pytest.raises(CheckNotRunnable, match="RTKC_OTHER_ACCOUNT_ID"):
            api.app_path("other")
        with pytest.raises(CheckNotRunnable, match="RTKC_READONLY_TOKEN"):
            await api.kick_all("m", auth="readonly")
        with pytest.raises(CheckNotRunnable, match="test clock"):
            await api.advance_clock(1)
        await api.request("GET", "/meetings/../presets")  # a test's own odd path is sent as is
        await api.get_meeting("../presets")  # but ids are quoted, so they cannot change route
    assert len(seen) == 2  # nothing was sent for the checks that could not run
    assert seen[-1].url.raw_path.endswith(b"/meetings/..%2Fpresets")


async def test_other_account_paths_and_token() -> None:
    seen: list[httpx.Request] = []
    config = load_config(
        None,
        {
            "RTKC_BASE_URL": "http://t.test/client/v4",
            "RTKC_ACCOUNT_ID": "acc",
            "RTKC_APP_ID": "app",
            "RTKC_ADMIN_TOKEN": TOKEN,
            "RTKC_OTHER_ACCOUNT_ID": "acc2",
            "RTKC_OTHER_APP_ID": "app2",
            "RTKC_OTHER_TOKEN": "other-token-12345",
        },
        {},
    )
    async with make_client(config, recording_transport(seen)) as api:
        prefix = api.app_path("other")
        await api.request("GET", prefix + "/meetings", auth="other")
        await api.request("GET", "/meetings", auth="none")
    assert seen[0].url.path == "/client/v4/accounts/acc2/realtime/kit/app2/meetings"
    assert seen[0].headers["authorization"] == "Bearer other-token-12345"
    assert "authorization" not in seen[1].headers
    assert "other-token-12345" not in json.dumps(api.evidence.to_har())


async def test_public_key_must_be_there() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"success": True, "data": {}}))
    async with make_client(make_config("http://t.test/client/v4"), transport) as api:
        with pytest.raises(UnexpectedResponse, match="publicKey"):
            await api.get_webhook_public_key()


async def test_the_circuit_breaker_opens_after_consecutive_connection_failures(tmp_path):
    """A dead target stops the run early: after 5 refused connections nothing more is sent."""
    import socket

    from conformance.client import ApiClient, TargetDown
    from conformance.config import load_config
    from conformance.errors import TargetUnreachable
    from conformance.evidence_log import EvidenceLog
    from conformance.redaction import Redactor
    from conformance.request_budget import RateLimiter

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {
        "RTKC_BASE_URL": f"http://127.0.0.1:{port}/client/v4",
        "RTKC_ACCOUNT_ID": "a",
        "RTKC_APP_ID": "b",
        "RTKC_ADMIN_TOKEN": "breaker-token-123",
    }
    config = load_config(None, env, {})
    async with ApiClient(config, EvidenceLog(Redactor()), RateLimiter(1000, 1.0)) as api:
        for _ in range(5):
            with pytest.raises(TargetUnreachable) as refused:
                await api.get_meeting("m")
            assert not isinstance(refused.value, TargetDown)
        with pytest.raises(TargetDown, match="5 consecutive connection failures"):
            await api.get_meeting("m")
        assert api.stats.attempts == 5
