"""A uvicorn server for the suite's own small HTTP endpoints (webhook receiver, pact callbacks).

It says when it is up (`ready`) instead of being polled, and leaves process signals alone:
Ctrl-C belongs to the suite, which then cleans up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn


class HelperServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
