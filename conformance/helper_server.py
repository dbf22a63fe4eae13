"""A uvicorn server for the suite's own small HTTP endpoints (webhook receiver, pact callbacks).

It says when it is up (`ready`) instead of being polled, and leaves process signals alone:
Ctrl-C belongs to the suite, which then cleans up. `launch` and `halt` bound both ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn


class HelperServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def launch(cls, app: Any, sock: socket.socket, timeout: float) -> HelperServer | None:
        """Serve `app` on the bound, listening `sock`; None if it is not up within `timeout`."""
        config = uvicorn.Config(
            app,
            interface="asgi3",  # a bound method fools uvicorn's ASGI2/3 guess
            lifespan="off",
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=1,
        )
        server = cls(config)
        server.task = asyncio.create_task(server.serve(sockets=[sock]))
        ready = asyncio.create_task(server.ready.wait())
        done, _ = await asyncio.wait({ready, server.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            return server
        ready.cancel()
        await server.halt(timeout)
        return None

    async def halt(self, timeout: float) -> None:
        """Stop within about `timeout`, whatever is in flight."""
        if self.task is None:
            return
        self.should_exit = True
        done, _ = await asyncio.wait({self.task}, timeout=timeout)
        if not done:
            self.force_exit = True
            self.task.cancel()
        # Collect the outcome so a crashed server is not reported as "never retrieved".
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        self.task = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
