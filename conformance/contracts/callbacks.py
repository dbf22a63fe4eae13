"""The endpoint the pact verifier calls back during a verification.

    POST /state    {"state", "params", "action": "setup"|"teardown"} -> the state's values
    POST /message  {"description", "providerStates"} -> the message (body + metadata header)

It is served by uvicorn as a task on the suite's own event loop, so the handlers use the
harness (API client, driver, receiver) directly; the verifier itself runs in a thread and
waits on these answers. One interaction is verified at a time, so one `World` is current.
Every handler has a deadline, below the verifier's own request timeout. A state that could
not be set up is answered 400, not 5xx: the verifier retries a 5xx state change with
growing pauses, which would only delay the error.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
from collections.abc import MutableMapping
from typing import Any

from conformance.contracts.states import World
from conformance.errors import ConfigError
from conformance.evidence_log import current_check
from conformance.helper_server import HelperServer

Scope = MutableMapping[str, Any]
HOST = "127.0.0.1"  # the verifier runs in this process
MAX_BODY_BYTES = 64 * 1024


class Callbacks:
    def __init__(self, deadline_seconds: float) -> None:
        self.deadline = deadline_seconds
        self.world: World | None = None
        self.port: int | None = None
        self._server: HelperServer | None = None

    @property
    def host(self) -> str:
        return HOST

    @property
    def state_url(self) -> str:
        return f"http://{HOST}:{self.port}/state"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # Nagle off
        sock.bind((HOST, 0))
        sock.listen(16)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._server = await HelperServer.launch(self._app, sock, 5)
        if self._server is None:
            raise ConfigError("the pact verifier's callback endpoint did not start")

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.halt(3)
        self._server = None

    # -- the app ------------------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        world = self.world
        if scope["method"] != "POST" or world is None or scope["path"] not in ("/state", "/message"):
            await _answer(send, 404, b'{"error": "no interaction is being verified"}')
            return
        request = json.loads(await _read(receive) or b"{}")
        token = current_check.set(world.check)
        try:
            if scope["path"] == "/state":
                await self._state(world, request, send)
            else:
                await self._message(world, send)
        finally:
            current_check.reset(token)

    async def _state(self, world: World, request: dict[str, Any], send: Any) -> None:
        state = str(request.get("state") or "")
        if request.get("action") == "teardown":
            # Teardown must happen whatever the target does; failures land in the ledger.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.deadline):
                    await world.tear_down()
            await _answer(send, 200, b"{}")
            return
        if world.setup_failure is not None:
            await _answer(send, 400, _error(f"an earlier provider state failed: {world.setup_failure[0]}"))
            return
        try:
            async with asyncio.timeout(self.deadline):
                values = await world.set_up(state, request.get("params") or {})
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                exc = TimeoutError(f"setting it up took longer than {self.deadline:g}s")
            world.setup_failure = (state, exc)
            await _answer(send, 400, _error(world.harness.redactor.redact_text(str(exc))))
            return
        await _answer(send, 200, json.dumps(values).encode())

    async def _message(self, world: World, send: Any) -> None:
        try:
            async with asyncio.timeout(self.deadline):
                message = await world.produce()
        except Exception as exc:
            if isinstance(exc, TimeoutError):
                exc = TimeoutError(f"producing the message took longer than {self.deadline:g}s")
            world.message_failure = exc
            await _answer(send, 500, _error(world.harness.redactor.redact_text(str(exc))))
            return
        metadata = dict(message.metadata)
        headers = []
        if message.content_type:
            metadata["contentType"] = message.content_type
            headers.append((b"content-type", message.content_type.encode("latin-1")))
        headers.append((b"pact-message-metadata", base64.b64encode(json.dumps(metadata).encode())))
        await _answer(send, 200, message.body, headers)


def _error(text: str) -> bytes:
    return json.dumps({"error": text}).encode()


async def _read(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        too_big = sum(map(len, chunks)) > MAX_BODY_BYTES
        if message["type"] == "http.disconnect" or not message.get("more_body") or too_big:
            return b"".join(chunks)


async def _answer(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = headers or [(b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
