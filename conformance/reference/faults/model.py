"""Faults that every scenario check passes and only the model phase catches: each needs an
interleaving no scenario tells (a leave before the end, a second session, a rejoin inside the
keep-alive window, a host who returns and leaves again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conformance.reference.faults.base import RewritingConnection, fault, patch
from conformance.reference.sessions import NoLiveSession

if TYPE_CHECKING:
    from conformance.reference.app import Reference


@fault("kick_all_counts_leavers", "END-01")
def _kick_all_counts_leavers(ref: Reference) -> None:
    """REST kick-all's kicked_participants_count also counts those who left the session before."""
    s = ref.sessions
    gone: dict[str, int] = {}

    def remove(original: Callable[..., None]) -> Callable[..., None]:
        def counted(peer: Any, *, room_state: str | None, reason: str) -> None:
            if peer.id in s._peers_of(peer.session_id) and reason == "left":
                gone[peer.session_id] = gone.get(peer.session_id, 0) + 1
            original(peer, room_state=room_state, reason=reason)

        return counted

    def end(original: Callable[..., int]) -> Callable[..., int]:
        def counting(scope: str, meeting_id: str) -> int:
            live = s.live_session_doc(scope, meeting_id)
            return original(scope, meeting_id) + (gone.get(live["id"], 0) if live else 0)

        return counting

    patch(s, "_remove", remove)
    patch(s, "end_meeting_session", end)


@fault("keep_alive_joiner_told_left", "END-02")
def _keep_alive_joiner_told_left(ref: Reference) -> None:
    """Whoever joined a session inside its keep-alive window is told roomLeft `left` when it ends."""
    s = ref.sessions
    emptied: set[str] = set()

    def keep_alive(original: Callable[..., None]) -> Callable[..., None]:
        def remembering(live: Any) -> None:
            emptied.add(live.id)
            original(live)

        return remembering

    def to_left(message: dict[str, Any]) -> dict[str, Any]:
        if message.get("type") == "roomLeft" and message.get("state") == "ended":
            return {**message, "state": "left"}
        return message

    def join(original: Callable[..., Any]) -> Callable[..., Any]:
        def joining(participant: Any, connection: Any, reply_to: str | None = None) -> Any:
            live = s.live_session_doc(participant["scope"], participant["meeting_id"])
            if live is not None and live["id"] in emptied:
                connection = RewritingConnection(connection, to_left)
            return original(participant, connection, reply_to)

        return joining

    patch(s, "_start_keep_alive", keep_alive)
    patch(s, "join", join)


@fault("keep_alive_survives_rejoin", "LEAVE-01")
def _keep_alive_survives_rejoin(ref: Reference) -> None:
    """A join inside the keep-alive window continues the session, but the window's timer still
    ends it (ALL_PARTICIPANTS_LEFT) with everyone in."""
    s = ref.sessions

    def keep_alive(original: Callable[..., None]) -> Callable[..., None]:
        def stubborn(live: Any) -> None:
            original(live)
            meeting = s.storage.get("meetings", live.meeting_id) or {}

            async def expire() -> None:
                if live.id in s.live:
                    s.end_session(live.id, "ALL_PARTICIPANTS_LEFT")

            # Under its own name, so the join's cancel of the keep-alive misses it.
            s.scheduler.call_later(
                f"stubborn:{live.id}", float(meeting.get("session_keep_alive_time_in_secs") or 60), expire
            )

        return stubborn

    patch(s, "_start_keep_alive", keep_alive)


@fault("host_grace_starts_once", "CLASS-01")
def _host_grace_starts_once(ref: Reference) -> None:
    """The classroom grace timer starts only the first time the host leaves a session: a host who
    returned and leaves again can stay away for ever."""
    s = ref.sessions
    started: set[str] = set()

    def grace(original: Callable[..., None]) -> Callable[..., None]:
        def once(live: Any) -> None:
            if live.id not in started:
                started.add(live.id)
                original(live)

        return once

    patch(s, "_start_host_grace", grace)


@fault("kick_all_first_session_only", "END-01")
def _kick_all_first_session_only(ref: Reference) -> None:
    """REST kick-all finds no live session once the meeting has had an ended one: it answers 404
    for every session after the first."""
    s = ref.sessions

    def end(original: Callable[..., int]) -> Callable[..., int]:
        def first_only(scope: str, meeting_id: str) -> int:
            ended = s.storage.list("sessions", scope=scope, parent=meeting_id, where=lambda d: d["status"] == "ENDED")
            if ended:
                raise NoLiveSession(meeting_id)
            return original(scope, meeting_id)

        return first_only

    patch(s, "end_meeting_session", end)
