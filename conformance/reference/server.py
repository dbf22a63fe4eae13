"""Runs the reference implementation: in a background thread (tests, embedded runs) or in
the foreground for `conformance serve`.

The socket is bound and listening before the server starts, so port 0 works and the real
address is known before anyone is told to connect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

import uvicorn

from conformance.helper_server import HelperServer
from conformance.reference.app import Reference, ReferenceSettings, build
from conformance.reference.ws_protocol import RealtimeWebSocketProtocol


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when
    # the socket says it is TCP; with proto 0, Nagle plus delayed ACKs add ~40 ms per answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def uvicorn_config(reference: Reference, *, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        reference.app,
        log_level=log_level,
        ws=RealtimeWebSocketProtocol,  # websockets-sansio, plus writing a frame now (ws_protocol.py)
        ws_max_size=1024 * 1024,
        # Realtime frames are small JSON: compressing each one costs a zlib flush per frame and
        # per connection (a tenth of a kick-all's fan-out at N = 1000) and saves no bandwidth.
        ws_per_message_deflate=False,
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=3,
    )


@dataclass(frozen=True)
class Endpoints:
    host: str
    port: int

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.origin + "/client/v4"

    @property
    def realtime_url(self) -> str:
        return self.origin.replace("http://", "ws://") + "/realtime"


def announcement(reference: Reference, endpoints: Endpoints) -> dict[str, Any]:
    """The one JSON line `conformance serve` prints when ready."""
    creds = reference.settings.credentials
    return {
        "base_url": endpoints.base_url,
        "account_id": creds.account_id,
        "app_id": creds.app_id,
        "api_token": creds.admin_token,
        "realtime_url": endpoints.realtime_url,
        "readonly_token": creds.readonly_token,
        "no_permission_token": creds.no_permission_token,
        "other_account": {
            "account_id": creds.other_account_id,
            "app_id": creds.other_app_id,
            "api_token": creds.other_token,
        },
        "webhook_public_key_url": endpoints.origin + "/.well-known/webhooks.json",
        "test_clock": reference.settings.test_clock,
        "host_grace_seconds": reference.settings.host_grace_seconds,
        "faults": list(reference.settings.faults),
        "requests_per_10s": reference.settings.requests_per_10s,
    }


def serve_foreground(
    reference: Reference, sock: socket.socket, endpoints: Endpoints, log_level: str = "warning"
) -> None:
    """`conformance serve`: serve on `sock` until Ctrl-C or SIGTERM, printing the announcement
    line once the server accepts connections (whoever reads it may connect at once)."""
    server = HelperServer(uvicorn_config(reference, log_level=log_level), own_signals=True)

    async def main() -> None:
        if await server.start(sock):
            print(json.dumps(announcement(reference, endpoints)), flush=True)
        await server.wait()

    asyncio.run(main())


class ThreadedServer:
    """The reference on 127.0.0.1:<free port> in a daemon thread with its own event loop.

    `with ThreadedServer(settings) as srv:` — ready on entry, stopped on exit.
    """

    def __init__(self, settings: ReferenceSettings | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings or ReferenceSettings()
        self._host = host
        self._port = port
        self.reference: Reference | None = None
        self._server: HelperServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.endpoints: Endpoints | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        sock = bind(self._host, self._port)
        self.endpoints = Endpoints(self._host, sock.getsockname()[1])
        self.reference = build(self.settings)
        self._server = HelperServer(uvicorn_config(self.reference))

        def run() -> None:
            try:
                asyncio.run(self._serve(sock))
            except BaseException as exc:  # surfaced to start()/stop()
                self._error = exc
            finally:
                self._ready.set()

        self._thread = threading.Thread(target=run, name="reference-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error or not self._server.ready.is_set():
            self.stop()
            raise RuntimeError(f"the reference server did not start within {timeout}s: {self._error!r}")
        return self

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        self.loop = asyncio.get_running_loop()
        await self._server.start(sock)
        self._ready.set()
        await self._server.wait()

    def call(self, fn: Any, timeout: float = 10.0) -> Any:
        """Run fn() on the server's loop (state machine calls must stay on that loop)."""
        assert self.loop is not None

        async def invoke() -> Any:
            result = fn()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), self.loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
