"""uvicorn's sans-I/O WebSocket protocol, plus one ASGI extension: write a text frame now.

ASGI sends are coroutines, so a message decided inside a synchronous state change can only
go out after that change returns and a writer task gets its turn. For a kick-all with
1,000 participants that put all the record-keeping in front of the first `roomLeft`. With
`rtkc.send_text_now` in the scope's extensions, the hub writes each frame to the socket the
moment the state machine decides it, still inside the atomic change, exactly as
`websockets.broadcast()` does. When it cannot (handshake not done, closing, the transport's
buffer full) it answers False and the hub queues the frame for its writer as before.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

SEND_TEXT_NOW = "rtkc.send_text_now"


class RealtimeWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # absent when the upgrade was refused
            scope["extensions"][SEND_TEXT_NOW] = self.send_text_now

    def send_text_now(self, text: str) -> bool:
        """Write one text frame synchronously; False if it must wait for the ASGI send path."""
        if (
            not self.handshake_complete
            or self.close_sent
            or getattr(self, "initial_response", None) is not None
            or not self.writable.is_set()  # the client is not reading: let the writer wait
            or self.transport.is_closing()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:  # the client already started closing
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True
