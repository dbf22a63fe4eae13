"""The baseline for bench/fanout.py: a bare WebSocket server that sends one message to every
client at once. It runs in its own process, as the reference does, so both sides of the
comparison have the same topology: one server process, one client process.

Prints `{"port": P}` when listening. On stdin, `wait N` answers `ok` once N clients are
registered, `go` broadcasts one frame to every client, and end of input stops it.
"""

from __future__ import annotations

import asyncio
import json
import sys

import websockets
from websockets.asyncio.server import serve

FRAME = json.dumps({"type": "roomLeft", "state": "ended"}, separators=(",", ":"))


async def main() -> None:
    clients: set = set()
    joined = asyncio.Condition()

    async def handler(ws) -> None:
        clients.add(ws)
        async with joined:
            joined.notify_all()
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with serve(handler, "127.0.0.1", 0, max_queue=None) as server:
        print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
        while line := await reader.readline():
            command = line.split()
            if command == [b"go"]:
                websockets.broadcast(clients, FRAME)
            elif command[:1] == [b"wait"]:
                wanted = int(command[1])
                async with joined:
                    await joined.wait_for(lambda wanted=wanted: len(clients) >= wanted)
                print("ok", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
