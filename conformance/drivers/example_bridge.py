"""An example bridge for the bridge driver (docs/bridge-protocol.md).

Run as `python -m conformance.drivers.example_bridge`. It plays the participants the suite
asks for by speaking the reference realtime protocol (openapi/realtime-protocol.md) over
WebSockets, using the suite's own `WebSocketParticipant` as its "client SDK".

A vendor writes the same program around its own client SDK, in any language: read one JSON
request per line on stdin, call the SDK, write one JSON reply per request on stdout, and
forward every SDK event for a participant as `{"participant": label, "event": {...}}`.
The parts to replace are marked "SDK".

Logs go to stderr (the suite keeps the last 50 lines); stdout carries protocol lines only,
one JSON object per line, flushed at once. The participant token is never logged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
import traceback
from collections.abc import AsyncIterator
from typing import Any, TextIO

from conformance import __version__
from conformance.drivers.base import ClientError, Event
from conformance.drivers.websocket import WebSocketParticipant
from conformance.errors import ConformanceError

NAME = "conformance example bridge (reference realtime protocol over WebSocket)"
LINE_LIMIT = 4 * 1024 * 1024
CLOSE_TIMEOUT = 5.0
# Frames that answer a request: they become the bridge's reply, not an event.
ANSWERS = ("roomJoined", "ack", "error")


class BridgeFailure(Exception):
    """A request the bridge itself cannot carry out (no client error code)."""


def log(message: str) -> None:
    print(f"example_bridge: {message}", file=sys.stderr, flush=True)


class Bridge:
    def __init__(self, out: TextIO, request_timeout: float) -> None:
        self.out = out
        self.request_timeout = request_timeout
        self.realtime_url: str | None = None
        # SDK: one client per participant label.
        self.participants: dict[str, WebSocketParticipant] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.finished = asyncio.Event()
        self.stdin_closed = False

    # -- stdout ----------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.out.write(json.dumps(message, separators=(",", ":")) + "\n")
            self.out.flush()
        except (OSError, ValueError):  # the suite is gone: nobody is listening any more
            self.finished.set()

    def forward(self, label: str, event: Event) -> None:
        """SDK event hook: every event a participant records goes to the suite, in order."""
        if event.get("type") in ANSWERS and event.get("reply_to") is not None:
            return  # the answer to a request; `handle` turns it into the reply
        self.send({"participant": label, "event": event})

    # -- stdin -----------------------------------------------------------------------------

    async def run(self, lines: AsyncIterator[bytes]) -> int:
        reader = asyncio.create_task(self.read(lines))
        await self.finished.wait()
        reader.cancel()
        if self.stdin_closed and self.tasks:
            # End of input, not shutdown: let the requests already read finish first.
            await asyncio.wait(set(self.tasks), timeout=self.request_timeout + CLOSE_TIMEOUT)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(reader, *self.tasks, return_exceptions=True)
        await self.close_all()
        return 0

    async def read(self, lines: AsyncIterator[bytes]) -> None:
        try:
            async for raw in lines:
                self.accept(raw.decode("utf-8", errors="replace").strip())
                if self.finished.is_set():
                    return
            self.stdin_closed = True
            log("stdin closed; exiting")
        finally:
            self.finished.set()

    def accept(self, text: str) -> None:
        if not text:
            return
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("id"), int):
            log("ignored a line that is not a request object with an integer id")
            return
        task = asyncio.create_task(self.handle(request))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- requests --------------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> None:
        request_id, op = request["id"], request.get("op")
        try:
            result = await self.dispatch(str(op), request)
        except ClientError as exc:
            error = {"code": exc.code, "message": exc.message}
            self.send({"reply_to": request_id, "ok": False, "error": error})
        except (BridgeFailure, ConformanceError) as exc:
            self.fail(request_id, str(exc))
        except Exception as exc:
            log(f"{op} failed:\n{traceback.format_exc()}")
            self.fail(request_id, f"{type(exc).__name__}: {exc}")
        else:
            self.send({"reply_to": request_id, "ok": True, "result": result})
            if op == "shutdown":
                self.finished.set()

    def fail(self, request_id: int, message: str) -> None:
        """A failure without a client error code: the suite reports it as the bridge's."""
        self.send({"reply_to": request_id, "ok": False, "error": {"code": None, "message": message}})

    async def dispatch(self, op: str, request: dict[str, Any]) -> dict[str, Any]:
        if op == "hello":
            url = request.get("realtime_url")
            if not isinstance(url, str) or not url:
                raise BridgeFailure("this bridge speaks the reference protocol: it needs realtime_url")
            self.realtime_url = url
            return {"name": NAME, "version": __version__}
        if op == "shutdown":
            await self.close_all()
            return {}
        label = request.get("participant")
        if not isinstance(label, str) or not label:
            raise BridgeFailure(f"{op} needs a participant label")
        if op == "close":
            dropped = self.participants.pop(label, None)
            if dropped is not None:
                await dropped.close()  # SDK: drop the connection without leaving
            return {}
        participant = self.participant(label)
        if op == "join":
            token = request.get("token")
            if not isinstance(token, str):
                raise BridgeFailure("join needs a token")
            joined = await participant.join(token)  # SDK: init + join the room
            return {k: v for k, v in joined.items() if k not in ("type", "reply_to")}
        if op == "leave":
            await participant.leave()  # SDK: leave the room
            return {}
        if op == "kick":
            target = request.get("target")
            if not isinstance(target, str):
                raise BridgeFailure("kick needs target: the peer id to remove")
            await participant.kick(target)  # SDK: kick that participant
            return {}
        if op == "kickAll":
            ack = await participant.kick_all()  # SDK: kick everyone / end the meeting
            count = ack.get("kicked_participants_count")
            return {} if count is None else {"kicked_participants_count": count}
        raise BridgeFailure(f"unknown op {op!r}")

    def participant(self, label: str) -> WebSocketParticipant:
        if self.realtime_url is None:
            raise BridgeFailure("no hello yet: realtime_url is unknown")
        if label not in self.participants:
            self.participants[label] = WebSocketParticipant(
                label, self.realtime_url, self.forward, self.request_timeout
            )
        return self.participants[label]

    async def close_all(self) -> None:
        dropped = list(self.participants.values())
        self.participants.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(p.close() for p in dropped), return_exceptions=True),
                CLOSE_TIMEOUT,
            )


async def stdin_lines() -> AsyncIterator[bytes]:
    """stdin, one line at a time, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    except (ValueError, OSError):
        # Not a pipe (a regular file, say): read it on a helper thread instead.
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def pump() -> None:
            with contextlib.suppress(RuntimeError):  # the loop may be gone at exit
                for line in sys.stdin.buffer:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                loop.call_soon_threadsafe(queue.put_nowait, b"")

        threading.Thread(target=pump, name="stdin", daemon=True).start()
        while line := await queue.get():
            yield line
        return
    while True:
        try:
            line = await reader.readline()
        except ValueError:
            log("skipped a request line longer than 4 MiB")
            continue
        if not line:
            return
        yield line


async def amain(request_timeout: float) -> int:
    log(f"{NAME} {__version__}: reading requests on stdin")
    return await Bridge(sys.stdout, request_timeout).run(stdin_lines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.drivers.example_bridge",
        description="A bridge for the suite's bridge driver; speaks the reference realtime protocol.",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the server to answer one request (default 30)",
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(amain(args.request_timeout))
    return 130


if __name__ == "__main__":
    sys.exit(main())
