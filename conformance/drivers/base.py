"""The participant interface the scenarios are written against.

A `Participant` is one client: it joins with a participant token, keeps every event it
receives in order, and tracks its room state the way the RealtimeKit client SDK does
(`init` → `joined` → one of `left` / `kicked` / `ended` / `rejected` / `disconnected`).
Requests refused by the implementation raise `ClientError` with the RealtimeKit client
error code, like the SDK's `ClientError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from conformance.errors import TargetTimeout, UnexpectedResponse

Event = dict[str, Any]
EventSink = Callable[[str, Event], None]

LEFT_STATES = ("left", "kicked", "ended", "rejected", "disconnected")


class ClientError(UnexpectedResponse):
    """A request refused by the implementation, carrying its client error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"ClientError {code}: {message}")
        self.code = code
        self.detail = message


class Participant(ABC):
    def __init__(self, label: str, sink: EventSink | None = None, request_timeout: float = 5.0) -> None:
        self.label = label
        self.events: list[Event] = []
        self.room_state = "init"
        self.permissions: dict[str, Any] = {}
        self.self_info: dict[str, Any] = {}
        self.session_id: str | None = None
        self.request_timeout = request_timeout
        self._sink = sink
        self._changed = asyncio.Condition()
        self.disconnected = asyncio.Event()  # the link to the implementation is gone

    # -- what a scenario calls -------------------------------------------------------------

    @property
    def peer_id(self) -> str | None:
        return self.self_info.get("id")

    @abstractmethod
    async def join(self, token: str) -> Event:
        """Join; returns the `roomJoined` event or raises ClientError."""

    @abstractmethod
    async def leave(self) -> None: ...

    @abstractmethod
    async def kick(self, peer_id: str) -> None: ...

    @abstractmethod
    async def kick_all(self) -> Event: ...

    @abstractmethod
    async def close(self) -> None:
        """Drop the connection without leaving (also: release resources). Idempotent."""

    def mark(self) -> int:
        """A position in the event history, for waiting on events that come after it."""
        return len(self.events)

    def received(self, kind: str, since: int = 0) -> list[Event]:
        return [e for e in self.events[since:] if e.get("type") == kind]

    async def wait_for(
        self,
        kind: str,
        where: Callable[[Event], bool] | None = None,
        *,
        since: int = 0,
        timeout: float = 5.0,
        what: str | None = None,
    ) -> Event:
        """The first event of `kind` (matching `where`) at or after `since`, or fail at the deadline."""
        deadline = time.monotonic() + timeout

        def find() -> Event | None:
            for event in self.events[since:]:
                if event.get("type") == kind and (where is None or where(event)):
                    return event
            return None

        async with self._changed:
            while (found := find()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(self._describe(e) for e in self.events[since:]) or "nothing"
                    raise UnexpectedResponse(
                        f"{self.label}: no {what or kind} within {timeout:.1f}s (received: {seen})"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
            return found

    async def assert_no_event(
        self,
        kind: str,
        within: float,
        where: Callable[[Event], bool] | None = None,
        since: int = 0,
        what: str | None = None,
    ) -> None:
        """Prove a negative: no `kind` event arrives within the window (the window is the point)."""
        try:
            event = await self.wait_for(kind, where, since=since, timeout=within)
        except UnexpectedResponse:
            return
        raise UnexpectedResponse(f"{self.label}: got {self._describe(event)} but expected no {what or kind}")

    async def wait_disconnected(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self.disconnected.wait(), timeout)
        except TimeoutError:
            raise UnexpectedResponse(
                f"{self.label}: still connected {timeout:.1f}s after {self.room_state!r}"
            ) from None

    async def wait_gone(self, timeout: float = 5.0) -> Event:
        """Wait until this participant is out of the room; returns its `roomLeft`."""
        return await self.wait_for("roomLeft", timeout=timeout, what="roomLeft")

    # -- for driver implementations --------------------------------------------------------

    async def _record(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "roomJoined":
            self.room_state = "joined"
            self.self_info = dict(event.get("self") or {})
            self.permissions = dict(event.get("permissions") or {})
            self.session_id = event.get("session_id")
        elif kind == "roomLeft" and self.room_state in ("init", "joined"):
            self.room_state = str(event.get("state"))
        self.events.append(event)
        if self._sink:
            self._sink(self.label, event)
        async with self._changed:
            self._changed.notify_all()

    async def _connection_lost(self) -> None:
        """The SDK's view when the link drops without a roomLeft: state `disconnected`."""
        self.disconnected.set()
        if self.room_state == "joined":
            await self._record({"type": "roomLeft", "state": "disconnected", "by": "driver"})

    @staticmethod
    def _describe(event: Event) -> str:
        kind = str(event.get("type"))
        if kind == "roomLeft":
            return f"roomLeft({event.get('state')})"
        if kind == "error":
            return f"error({event.get('code')})"
        return kind


class ParticipantDriver(ABC):
    """Makes participants; one per run. `async with driver:` brackets its resources."""

    name: str = "driver"

    def __init__(self, realtime_url: str | None, sink: EventSink | None = None, request_timeout: float = 5.0) -> None:
        self.realtime_url = realtime_url
        self.sink = sink
        self.request_timeout = request_timeout

    @abstractmethod
    async def participant(self, label: str) -> Participant: ...

    async def __aenter__(self) -> ParticipantDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        return None


def timeout_error(label: str, request: str, seconds: float) -> TargetTimeout:
    return TargetTimeout(f"{label}: no answer to {request} within {seconds:.1f}s")
