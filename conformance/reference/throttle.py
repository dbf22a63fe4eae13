"""RealtimeKit's REST rate limit, opt-in: at most N requests per account in any 10 s, then 429.

Off by default (the embedded reference serves one suite process and nobody else). Switched on
with `conformance serve --requests-per-10s N`, it makes the reference a throttling target:
the suite's own budget and its 429 handling can then be checked against a real limit rather
than against a fake that answers 429 to everything.

A sliding log per account, in real time (not the test clock: a rate limit protects the
server's present, and advancing the meeting clock must not refill it).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

WINDOW_SECONDS = 10.0
_ACCOUNT = re.compile(r"^/client/v4/accounts/([^/]+)/")

Scope = dict[str, Any]


class AccountRateLimit:
    """ASGI middleware: REST calls under /client/v4/accounts/{account}/ count against it."""

    def __init__(self, app: Any, requests_per_10s: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.limit = requests_per_10s
        self.clock = clock
        self._granted: dict[str, deque[float]] = {}
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        match = _ACCOUNT.match(scope.get("path", "")) if scope["type"] == "http" else None
        wait = self._admit(match.group(1)) if match else 0.0
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        self.refused += 1
        retry_after = max(1, math.ceil(wait))
        body = json.dumps(
            {
                "success": False,
                "error": {
                    "code": 429,
                    "message": f"rate limit: {self.limit} requests per 10 s; retry in {retry_after} s",
                },
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _admit(self, account: str) -> float:
        """0 if the request may go ahead (and it is counted); else seconds until it could."""
        now = self.clock()
        granted = self._granted.setdefault(account, deque())
        while granted and granted[0] <= now - WINDOW_SECONDS:
            granted.popleft()
        if len(granted) < self.limit:
            granted.append(now)
            return 0.0
        return granted[0] + WINDOW_SECONDS - now
