"""Keep the whole run under the target's request rate limit (RealtimeKit: 250 per 10 s).

Two limiters with one interface (`acquire()`, `stats`):
- `SharedRateLimiter` over a `SharedWindow`: what `conformance run` uses against a configured
  target. Every process of the run takes its slots from one file, and no 10 s holds more
  than the budget.
- `RateLimiter`: a token bucket private to one process. It starts full (a burst of
  `max_requests`) and refills at max_requests / per_seconds per second, so a 10 s window can
  see up to twice the budget. Used for the embedded reference, which has no limit, and for
  pytest run by hand, where each process takes its share.

And the one reading of a target's `Retry-After` (`retry_after_seconds`), for the suite's
client and the fuzz phase's hooks alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
import os
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

__all__ = [
    "WINDOW_ENV",
    "Limiter",
    "RateLimiter",
    "RateLimiterStats",
    "SharedRateLimiter",
    "SharedWindow",
    "budget_limiter",
    "retry_after_seconds",
]

# Set by the runner for a configured target: the file every process of the run takes its
# request slots from (SharedWindow).
WINDOW_ENV = "RTKC_RATE_WINDOW"
# How long to pause after a 429 that names no usable Retry-After.
DEFAULT_RETRY_AFTER_SECONDS = 1.0


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


class SharedWindow:
    """At most `max_requests` grants in any `per_seconds`, across every process of a run.

    A per-process bucket cannot keep a run under a target's limit: xdist workers, the fuzz
    phase's `st` child and the runner's sweeps each send on their own. They all take their
    slots here instead: a file holding the last `max_requests` grant times as a ring, read
    and written under an exclusive flock. A request may go when the oldest of those times has
    left the window, so no window of `per_seconds` ever holds more than `max_requests`, which
    a token bucket (a full burst, then a refill) does not promise. The clock is
    CLOCK_MONOTONIC, shared by every process on the machine.
    """

    _HEAD = struct.Struct("<q")
    _SLOT = struct.Struct("<d")

    def __init__(self, path: Path, max_requests: int, per_seconds: float = 10.0) -> None:
        if max_requests < 1 or per_seconds <= 0:
            raise ValueError("max_requests must be >= 1 and per_seconds > 0")
        self.path = Path(path)
        self.size = max_requests
        self.window = per_seconds
        with self._locked() as fd:
            if os.fstat(fd).st_size == 0:  # the first process here lays out an empty ring
                os.pwrite(fd, self._HEAD.pack(0) + self._SLOT.pack(-math.inf) * self.size, 0)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for two reads and two writes
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def try_take(self) -> float:
        """Take a slot and answer 0, or answer how many seconds until one frees up."""
        with self._locked() as fd:
            (head,) = self._HEAD.unpack(os.pread(fd, self._HEAD.size, 0))
            offset = self._HEAD.size + head * self._SLOT.size
            (oldest,) = self._SLOT.unpack(os.pread(fd, self._SLOT.size, offset))
            now = time.monotonic()
            if oldest > now - self.window:
                return oldest + self.window - now
            os.pwrite(fd, self._SLOT.pack(now), offset)
            os.pwrite(fd, self._HEAD.pack((head + 1) % self.size), 0)
            return 0.0

    def take_blocking(self) -> None:
        """For synchronous callers (the `st` child's hooks): wait for a slot, then take it."""
        while (delay := self.try_take()) > 0:
            time.sleep(delay)  # the slot's release time is known exactly; nothing frees it sooner


class SharedRateLimiter:
    """`RateLimiter`'s interface over a `SharedWindow`, for the suite's async clients."""

    def __init__(self, window: SharedWindow, *, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.window = window
        self.stats = RateLimiterStats()
        self._sleep = sleep

    async def acquire(self) -> None:
        waited = False
        while (delay := self.window.try_take()) > 0:
            waited = True
            self.stats.waited_seconds += delay
            await self._sleep(delay)  # as above: the release time is known exactly
        self.stats.waits += waited
        self.stats.acquired += 1


Limiter = RateLimiter | SharedRateLimiter


def budget_limiter(requests_per_10s: int, window: Path | None = None, processes: int = 1) -> Limiter:
    """The run's shared window when there is one; else this process's share of the budget."""
    if window is not None:
        return SharedRateLimiter(SharedWindow(window, requests_per_10s))
    return RateLimiter(max(1, requests_per_10s // processes), 10.0)


def retry_after_seconds(value: str | None, cap: float) -> float:
    """Seconds to wait from a Retry-After value (RFC 9110 §10.2.3: delta-seconds or an
    HTTP date), between 0 and `cap`; DEFAULT_RETRY_AFTER_SECONDS when absent or unreadable.

    Each caller names its own cap: how long it can afford to wait, not what the target may ask.
    """
    value = (value or "").strip()
    if not value:
        return DEFAULT_RETRY_AFTER_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_SECONDS
        if when.tzinfo is None:  # RFC 9110's dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):  # "nan", "inf"
        return DEFAULT_RETRY_AFTER_SECONDS
    return min(max(seconds, 0.0), cap)
