"""Keep the whole run under the target's request rate limit (RealtimeKit: 250 per 10 s).

A token bucket: it starts full (a burst of `max_requests` is allowed) and refills
continuously at max_requests / per_seconds tokens per second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimiterStats"]


@dataclass
class RateLimiterStats:
    acquired: int = 0
    waits: int = 0  # how many acquisitions had to wait at all
    waited_seconds: float = 0.0  # total computed wait


class RateLimiter:
    def __init__(
        self,
        max_requests: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if max_requests < 1 or per_seconds <= 0:
            raise ValueError("max_requests must be >= 1 and per_seconds > 0")
        self.capacity = float(max_requests)
        self.rate = max_requests / per_seconds  # tokens per second
        self.stats = RateLimiterStats()
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        # Created lazily: the limiter may be built before the event loop runs.
        self._lock: asyncio.Lock | None = None

    async def acquire(self) -> None:
        """Take one request slot, waiting only when the bucket is empty."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        # The lock queues waiters in arrival order, so nobody starves under load.
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                self.stats.waits += 1
                self.stats.waited_seconds += delay
                # A computed sleep is right here: the refill time is known exactly and
                # nothing else can make a token appear sooner (no event to wait for).
                await self._sleep(delay)
                self._refill()
                # Clock granularity may leave us a hair short; the slot is ours anyway.
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1
            self.stats.acquired += 1

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
