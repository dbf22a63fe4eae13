"""Small misbehaving targets for testing the suite itself (not the implementation).

Each target can first answer `honest_requests` requests as a healthy RealtimeKit list (an
empty page of meetings) and misbehave only after. The preflight's request is then answered
well, so a run gets past it and its checks meet the hostile behaviour mid-run.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEALTHY_LIST = json.dumps(
    {"success": True, "data": [], "paging": {"total_count": 0, "start_offset": 0, "end_offset": 0}}
).encode()


def _healthy_answer() -> bytes:
    """A whole HTTP/1.1 answer with HEALTHY_LIST, closing the connection after it."""
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(HEALTHY_LIST)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + HEALTHY_LIST


class _Honesty:
    """How many requests (or connections) are still to be answered well; thread-safe."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def _read_request_head(conn: socket.socket) -> None:
    """Read up to the blank line ending the request head (the preflight's GET has no body)."""
    conn.settimeout(5)
    seen = b""
    while b"\r\n\r\n" not in seen:
        chunk = conn.recv(4096)
        if not chunk:
            return
        seen += chunk


class _Server(ThreadingHTTPServer):
    honesty: _Honesty


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
        server = self.server
        assert isinstance(server, _Server)
        if server.honesty.take():
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(HEALTHY_LIST)))
            self.end_headers()
            self.wfile.write(HEALTHY_LIST)
            return
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

    def __init__(self, honest_requests: int = 0) -> None:
        self.honest_requests = honest_requests

    def __enter__(self) -> str:
        self.server = _Server(("127.0.0.1", 0), self.handler)
        self.server.honesty = _Honesty(self.honest_requests)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hangs:
    """Accepts connections and never answers (after `honest_requests` answered well, one per
    connection)."""

    def __init__(self, honest_requests: int = 0) -> None:
        self.honesty = _Honesty(honest_requests)

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
                except OSError:
                    continue
                if self.honesty.take():
                    _answer_well(conn)
                else:
                    self.held.append(conn)

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/client/v4"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


class Vanishes:
    """Answers `honest_requests` requests well, one per connection, then stops listening: a
    target that goes away mid-run (connections refused from then on)."""

    def __init__(self, honest_requests: int = 1) -> None:
        self.honesty = _Honesty(honest_requests)

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/client/v4"
        if self.honesty.left <= 0:
            self.sock.close()
            return url

        def serve() -> None:
            self.sock.settimeout(30)  # a run that never comes must not hold the thread forever
            with self.sock:
                while self.honesty.take():
                    try:
                        conn, _ = self.sock.accept()
                    except OSError:
                        return
                    _answer_well(conn)

        threading.Thread(target=serve, daemon=True).start()
        return url

    def __exit__(self, *exc: object) -> None:
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
    """Accepts connections and resets them at once (RST, no answer), after `honest_requests`
    answered well, one per connection."""

    def __init__(self, honest_requests: int = 0) -> None:
        self.honesty = _Honesty(honest_requests)

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
                if self.honesty.take():
                    _answer_well(conn)
                    continue
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/client/v4"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()


def _answer_well(conn: socket.socket) -> None:
    try:
        _read_request_head(conn)
        conn.sendall(_healthy_answer())
    except OSError:
        pass  # the client gave up: nothing to answer
    finally:
        conn.close()
