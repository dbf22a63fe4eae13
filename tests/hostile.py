"""Small misbehaving targets for testing the suite itself (not the implementation)."""

from __future__ import annotations

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Answer(BaseHTTPRequestHandler):
    """Answers every request the same way: `status`, `content_type`, `body`, `extra` headers."""

    status = 500
    content_type = "application/json"
    body = b'{"success": false, "error": {"code": 500, "message": "down"}}'
    extra: tuple[tuple[str, str], ...] = ()
    declared_length: int | None = None  # more than is sent: a truncated answer

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("content-type", self.content_type)
        self.send_header("content-length", str(self.declared_length or len(self.body)))
        for name, value in self.extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(self.body)
        if self.declared_length:
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def answering(name: str, **attributes: object) -> type[_Answer]:
    return type(name, (_Answer,), attributes)


class Always500:
    """An HTTP server that answers 500 to everything (or whatever its handler says)."""

    handler: type[_Answer] = answering("Down")

    def __enter__(self) -> str:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hangs:
    """Accepts connections and never answers."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()

        def accept() -> None:
            self.sock.settimeout(0.2)
            while not self.stop.is_set():
                try:
                    conn, _ = self.sock.accept()
                    self.held.append(conn)
                except OSError:
                    continue

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/client/v4"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/client/v4"


class Always429(Always500):
    handler = answering(
        "Throttled",
        status=429,
        extra=(("retry-after", "1"),),
        body=b'{"success": false, "error": {"code": 429, "message": "slow down"}}',
    )


class Garbage(Always500):
    handler = answering("Garbage", status=201, body=b"\x00\xffnot json at all<html>")


class WrongContentType(Always500):
    handler = answering("Html", status=201, content_type="text/html", body=b"<html><body>hello</body></html>")


class TruncatedJson(Always500):
    handler = answering("Truncated", status=201, body=b'{"success": true, "data": {"id": "', declared_length=400)


class Resets:
    """Accepts connections and resets them at once (RST, no answer)."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.stop = threading.Event()

        def accept() -> None:
            self.sock.settimeout(0.2)
            while not self.stop.is_set():
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    continue
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/client/v4"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()
