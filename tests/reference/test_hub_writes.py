"""The hub's two ways out: a frame written at once (the `rtkc.send_text_now` extension) and the
per-connection writer queue. Whichever carries a frame, frames reach the client in the order
they were decided."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketState
from websockets.asyncio.client import connect

from conformance.helper_server import HelperServer
from conformance.reference.hub import WsConnection
from conformance.reference.server import bind
from conformance.reference.ws_protocol import SEND_TEXT_NOW, RealtimeWebSocketProtocol


class FakeWebSocket:
    """Enough of starlette's WebSocket for WsConnection; `now_ok` scripts the direct path."""

    def __init__(self, now_ok: list[bool]) -> None:
        self.wire: list[tuple[str, str]] = []  # (path, frame) in the order they left
        self.now_ok = now_ok
        self.scope = {"extensions": {SEND_TEXT_NOW: self._send_now}}
        self.application_state = WebSocketState.CONNECTED

    def _send_now(self, text: str) -> bool:
        ok = self.now_ok.pop(0) if self.now_ok else True
        if ok:
            self.wire.append(("now", text))
        return ok

    async def send_text(self, text: str) -> None:
        self.wire.append(("queued", text))

    async def close(self, code: int = 1000) -> None:
        self.wire.append(("queued", f"close {code}"))
        self.application_state = WebSocketState.DISCONNECTED


def frames(ws: FakeWebSocket) -> list[str]:
    return [json.loads(text)["n"] if not text.startswith("close") else text for _, text in ws.wire]


async def test_frames_go_out_at_once_when_the_server_offers_it() -> None:
    ws = FakeWebSocket(now_ok=[])
    conn = WsConnection(ws)  # type: ignore[arg-type]
    conn.send({"n": 1})
    conn.send({"n": 2})
    # Written before anything awaited: no writer task has run.
    assert ws.wire == [("now", '{"n":1}'), ("now", '{"n":2}')]


async def test_a_frame_that_must_wait_is_not_overtaken_by_later_ones() -> None:
    ws = FakeWebSocket(now_ok=[True, False])  # the second frame finds the buffer full
    conn = WsConnection(ws)  # type: ignore[arg-type]
    writer = asyncio.create_task(conn.write())
    for n in range(1, 5):
        conn.send({"n": n})
    conn.close(1000)
    await asyncio.wait_for(writer, 5)
    assert frames(ws) == [1, 2, 3, 4, "close 1000"]
    assert [path for path, _ in ws.wire] == ["now", "queued", "queued", "queued", "queued"]
    # Once the queue has drained, the direct path is open again.
    ws2 = FakeWebSocket(now_ok=[False, True])
    conn2 = WsConnection(ws2)  # type: ignore[arg-type]
    writer2 = asyncio.create_task(conn2.write())
    conn2.send({"n": 1})
    await asyncio.wait_for(_until(lambda: len(ws2.wire) == 1), 5)
    conn2.send({"n": 2})
    assert ws2.wire[-1] == ("now", '{"n":2}')
    conn2.close()
    await asyncio.wait_for(writer2, 5)


async def test_without_the_extension_every_frame_takes_the_queue() -> None:
    ws = FakeWebSocket(now_ok=[])
    ws.scope = {"extensions": {}}
    conn = WsConnection(ws)  # type: ignore[arg-type]
    writer = asyncio.create_task(conn.write())
    conn.send({"n": 1})
    conn.close()
    await asyncio.wait_for(writer, 5)
    assert [path for path, _ in ws.wire] == ["queued", "queued"]


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    while not condition():
        await asyncio.sleep(0.001)


@pytest.fixture
def echo_server():  # type: ignore[no-untyped-def]
    """uvicorn with the reference's protocol class and an app that writes one frame directly."""
    seen: dict[str, object] = {}

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        send_now = websocket.scope["extensions"].get(SEND_TEXT_NOW)
        seen["offered"] = send_now is not None
        seen["written"] = bool(send_now and send_now('{"type":"direct"}'))
        await websocket.send_text('{"type":"queued"}')
        await websocket.receive()

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    sock: socket.socket = bind("127.0.0.1", 0)
    server = HelperServer(uvicorn.Config(app, ws=RealtimeWebSocketProtocol, log_level="warning", lifespan="off"))
    return server, sock, seen


async def test_the_installed_uvicorn_carries_the_extension(echo_server) -> None:  # type: ignore[no-untyped-def]
    """An uvicorn upgrade that breaks the subclass fails here, not silently in the benchmark."""
    server, sock, seen = echo_server
    assert await server.start(sock, 10), "uvicorn with the reference's protocol did not start"
    task = server.task
    try:
        port = sock.getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5) as ws:
            got = [json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] for _ in range(2)]
        assert seen == {"offered": True, "written": True}
        assert got == ["direct", "queued"]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
