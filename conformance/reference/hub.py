"""The realtime WebSocket endpoint: speaks openapi/realtime-protocol.md for each participant.

The state machine "sends" without awaiting, so each state change stays atomic. A message
is written to the socket at once when the server offers `rtkc.send_text_now` (ws_protocol.py)
and nothing queued is waiting before it; otherwise it joins a per-connection queue drained by
one writer task. Either way messages reach each client in the order they were decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from conformance.reference.sessions import Peer, Refused, SessionService
from conformance.reference.storage import Storage
from conformance.reference.validation import strict_json
from conformance.reference.ws_protocol import SEND_TEXT_NOW

log = logging.getLogger("conformance.reference.hub")

JOIN_TIMEOUT_SECONDS = 10.0
MAX_FRAME_CHARS = 64 * 1024


def token_key(token: str) -> str:
    """Participant tokens are stored hashed: a leaked database leaks no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


class _Close:
    def __init__(self, code: int) -> None:
        self.code = code


class WsConnection:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._send_now = websocket.scope.get("extensions", {}).get(SEND_TEXT_NOW)
        self._waiting = 0  # queued and not yet written: a direct write must not overtake them

    def send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            return
        if self._waiting == 0 and self._send_now is not None and self._send_now(_encode(message)):
            return
        self._enqueue(message)

    def close(self, code: int = 1000) -> None:
        self._enqueue(_Close(code))

    def _enqueue(self, item: dict[str, Any] | _Close) -> None:
        self._waiting += 1
        self.queue.put_nowait(item)

    async def write(self) -> None:
        try:
            while True:
                item = await self.queue.get()
                try:
                    await self._write(item)
                finally:
                    self._waiting -= 1
                if isinstance(item, _Close):
                    return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client went away: nothing more to write
        finally:
            self.closed.set()

    async def _write(self, item: dict[str, Any] | _Close) -> None:
        if isinstance(item, _Close):
            # A kick-all closes every connection at once: let every peer's roomLeft go out
            # before any of the close handshakes, which nobody is waiting on.
            await asyncio.sleep(0)
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.close(item.code)
        else:
            await self.websocket.send_text(_encode(item))


def _encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class RealtimeHub:
    def __init__(self, service: SessionService, storage: Storage) -> None:
        self.service = service
        self.storage = storage

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        conn = WsConnection(websocket)
        writer = asyncio.create_task(conn.write())
        peer: Peer | None = None
        try:
            while not conn.closed.is_set():
                frame = await self._next_frame(websocket, conn, joined=peer is not None)
                if frame is None:
                    break
                peer = self._handle(frame, conn, peer)
        except WebSocketDisconnect:
            pass
        finally:
            if peer is not None:
                self.service.disconnected(peer)
            conn.close()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer, 5)

    async def _next_frame(self, websocket: WebSocket, conn: WsConnection, *, joined: bool) -> Any:
        """The next client frame; None once the connection is over (either side)."""
        receive = asyncio.ensure_future(websocket.receive())
        closed = asyncio.ensure_future(conn.closed.wait())
        timeout = None if joined else JOIN_TIMEOUT_SECONDS
        done, _ = await asyncio.wait({receive, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in (receive, closed):
            if task not in done:
                task.cancel()
        if not done:
            conn.send({"type": "error", "reply_to": None, "code": 4, "message": "no join within 10 s"})
            conn.close(4008)
            return None
        if receive not in done:
            return None
        message = receive.result()
        if message["type"] == "websocket.disconnect":
            return None
        return message

    def _handle(self, message: dict[str, Any], conn: WsConnection, peer: Peer | None) -> Peer | None:
        text = message.get("text")
        try:
            if text is None or len(text) > MAX_FRAME_CHARS:
                raise ValueError
            request = strict_json(text)
            if not isinstance(request, dict) or not isinstance(request.get("type"), str):
                raise ValueError
        except ValueError:
            conn.send(
                {
                    "type": "error",
                    "reply_to": None,
                    "code": 0,
                    "message": "malformed frame: send one JSON object with a type",
                }
            )
            return peer
        kind = request["type"]
        reply_to = request.get("id") if isinstance(request.get("id"), str) else None
        try:
            if kind == "join":
                if peer is not None:
                    raise Refused(1205, "already joined on this connection")
                return self._join(request, conn, reply_to)
            if peer is None:
                raise Refused(1106, "join the room first")
            if kind == "leave":
                self.service.leave(peer, reply_to)
            elif kind == "kick":
                target = request.get("participant_id")
                if not isinstance(target, str):
                    raise Refused(1204, "kick needs participant_id: the peer id to remove")
                self.service.client_kick(peer, target, reply_to)
            elif kind == "kickAll":
                self.service.client_kick_all(peer, reply_to)
            else:
                raise Refused(9900, f"unknown request type {kind!r}")
        except Refused as refused:
            conn.send({"type": "error", "reply_to": reply_to, "code": refused.code, "message": refused.message})
            if refused.close_code:
                conn.close(refused.close_code)
        return peer

    def _join(self, request: dict[str, Any], conn: WsConnection, reply_to: str | None) -> Peer:
        token = request.get("token")
        entry = self.storage.get("tokens", token_key(token)) if isinstance(token, str) and token else None
        participant = self.storage.get("participants", entry["participant_id"]) if entry else None
        if participant is None:
            raise Refused(4, "invalid auth token", 4001)
        return self.service.join(participant, conn, reply_to)
