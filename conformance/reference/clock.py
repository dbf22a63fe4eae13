"""One clock for everything time-dependent (keep-alive, host grace, webhook backoff).

Real wall time plus an offset. The opt-in test-clock endpoint advances the offset, which
wakes the scheduler so that timers that became due fire at once, exactly as if the time had
passed. Nothing in the reference implementation reads `time.time()` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

log = logging.getLogger("conformance.reference.clock")


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._on_advance: list[Callable[[], None]] = []

    def now(self) -> float:
        """Seconds since the epoch, as this server sees them."""
        return time.time() + self._offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def iso(self, ts: float | None = None) -> str:
        moment = self.utcnow() if ts is None else datetime.fromtimestamp(ts, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        for callback in list(self._on_advance):
            callback()
        return self.now()

    def on_advance(self, callback: Callable[[], None]) -> None:
        self._on_advance.append(callback)


class Scheduler:
    """Named one-shot timers on the Clock, run by one background task.

    A timer is keyed (`keepalive:<session>`, `grace:<session>`…), so scheduling the same key
    again replaces it and cancelling is by name. The loop waits for the earliest due time or
    for a change (new timer, clock advanced), whichever comes first.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._timers: dict[str, tuple[float, int, Callable[[], Awaitable[None]]]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        clock.on_advance(self._changed.set)

    def call_at(self, key: str, due: float, callback: Callable[[], Awaitable[None]]) -> None:
        seq = next(self._seq)
        self._timers[key] = (due, seq, callback)
        heapq.heappush(self._heap, (due, seq, key))
        self._changed.set()

    def call_later(self, key: str, delay: float, callback: Callable[[], Awaitable[None]]) -> None:
        self.call_at(key, self.clock.now() + delay, callback)

    def cancel(self, key: str) -> bool:
        return self._timers.pop(key, None) is not None

    def pending(self, key: str) -> float | None:
        entry = self._timers.get(key)
        return entry[0] if entry else None

    async def sleep_until(self, due: float) -> None:
        """Wait until the clock reaches `due` (a timer wait: the behaviour defines it)."""
        done = asyncio.get_running_loop().create_future()

        async def wake() -> None:
            if not done.done():
                done.set_result(None)

        key = f"sleep:{id(done)}"
        self.call_at(key, due, wake)
        try:
            await done
        finally:
            self.cancel(key)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            now = self.clock.now()
            while self._heap and self._heap[0][0] <= now:
                _due, seq, key = heapq.heappop(self._heap)
                entry = self._timers.get(key)
                if entry is None or entry[1] != seq:
                    continue  # cancelled or replaced
                del self._timers[key]
                task = asyncio.get_running_loop().create_task(self._fire(key, entry[2]))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            timeout = self._heap[0][0] - now if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    @staticmethod
    async def _fire(key: str, callback: Callable[[], Awaitable[None]]) -> None:
        try:
            await callback()
        except Exception:  # a failing timer must not take the scheduler down
            log.exception("timer %s failed", key)
