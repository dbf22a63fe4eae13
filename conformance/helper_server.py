"""A uvicorn server that says when it is up (`ready`, `start`) instead of being polled: the
suite's own small HTTP endpoints (webhook receiver, pact callbacks) and the reference itself
(`ThreadedServer`, `conformance serve`) all start through it.

uvicorn has no start-up event of its own, only a `started` flag; `startup` is where it
becomes true. Process signals are left alone unless asked for (`own_signals`): Ctrl-C belongs
to the suite, which then cleans up, while `conformance serve` stops on it like any server.
`launch` and `halt` bound both ends of a background server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn


class HelperServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, own_signals: bool = False) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._own_signals = own_signals

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
        if await server.start(sock, timeout):
            return server
        await server.halt(timeout)
        return None

    async def start(self, sock: socket.socket, timeout: float | None = None) -> bool:
        """Start serving on the bound, listening `sock`: True once it accepts connections,
        False if it stopped first (then `wait` says why) or `timeout` passed."""
        self.task = asyncio.create_task(self.serve(sockets=[sock]))
        ready = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait({ready, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready in done:
            return True
        ready.cancel()
        return False

    async def wait(self) -> None:
        """Until the server has stopped; raises what stopped it, if anything did."""
        if self.task is not None:
            await self.task

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
        if self._own_signals:
            with super().capture_signals():
                yield
        else:
            yield
