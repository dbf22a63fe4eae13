"""The driver for the reference realtime protocol (openapi/realtime-protocol.md)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from conformance.drivers.base import (
    ClientError,
    Event,
    EventSink,
    Participant,
    ParticipantDriver,
    timeout_error,
)
from conformance.errors import ConfigError, TargetUnreachable, UnexpectedResponse

CONNECT_TIMEOUT = 10.0


class WebSocketParticipant(Participant):
    def __init__(self, label: str, url: str, sink: EventSink | None, request_timeout: float) -> None:
        super().__init__(label, sink, request_timeout)
        self.url = url
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[Event]] = {}
        self._ids = itertools.count(1)

    async def _open(self) -> None:
        try:
            self._ws = await asyncio.wait_for(
                connect(self.url, open_timeout=CONNECT_TIMEOUT, max_size=4 * 1024 * 1024),
                CONNECT_TIMEOUT + 1,
            )
        except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake, websockets.exceptions.InvalidURI) as exc:
            raise TargetUnreachable(f"{self.label}: cannot open the realtime WebSocket {self.url}: {exc}") from None
        self._reader = asyncio.create_task(self._read(), name=f"ws-reader-{self.label}")

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                try:
                    event = json.loads(frame)
                except (TypeError, ValueError):
                    event = {"type": "garbage", "raw": str(frame)[:200]}
                if not isinstance(event, dict):
                    event = {"type": "garbage", "raw": str(frame)[:200]}
                reply_to = event.get("reply_to")
                future = self._pending.pop(reply_to, None) if isinstance(reply_to, str) else None
                await self._record(event)
                if future is not None and not future.done():
                    future.set_result(event)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(UnexpectedResponse(f"{self.label}: connection closed before an answer"))
            self._pending.clear()
            await self._connection_lost()

    async def _request(self, kind: str, **fields: Any) -> Event:
        if self._ws is None:
            await self._open()
        assert self._ws is not None
        request_id = str(next(self._ids))
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._ws.send(json.dumps({"type": kind, "id": request_id, **fields}))
        except websockets.exceptions.ConnectionClosed:
            self._pending.pop(request_id, None)
            raise UnexpectedResponse(f"{self.label}: connection closed; cannot send {kind}") from None
        try:
            answer = await asyncio.wait_for(future, self.request_timeout)
        except TimeoutError:
            self._pending.pop(request_id, None)
            raise timeout_error(self.label, kind, self.request_timeout) from None
        if answer.get("type") == "error":
            raise ClientError(int(answer.get("code", -1)), str(answer.get("message", "")))
        return answer

    async def join(self, token: str) -> Event:
        answer = await self._request("join", token=token)
        if answer.get("type") != "roomJoined":
            raise UnexpectedResponse(f"{self.label}: join was answered with {answer.get('type')!r}, not roomJoined")
        return answer

    async def leave(self) -> None:
        await self._request("leave")

    async def kick(self, peer_id: str) -> None:
        await self._request("kick", participant_id=peer_id)

    async def kick_all(self) -> Event:
        return await self._request("kickAll")

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 3)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 3)


class WebSocketDriver(ParticipantDriver):
    name = "websocket"

    def __init__(self, realtime_url: str | None, sink: EventSink | None = None, request_timeout: float = 5.0) -> None:
        if not realtime_url:
            raise ConfigError("the websocket driver needs target.realtime_url (RTKC_REALTIME_URL)")
        super().__init__(realtime_url, sink, request_timeout)
        self._participants: list[WebSocketParticipant] = []

    async def participant(self, label: str) -> Participant:
        assert self.realtime_url is not None
        p = WebSocketParticipant(label, self.realtime_url, self.sink, self.request_timeout)
        self._participants.append(p)
        return p

    async def aclose(self) -> None:
        await asyncio.gather(*(p.close() for p in self._participants), return_exceptions=True)
        self._participants.clear()
