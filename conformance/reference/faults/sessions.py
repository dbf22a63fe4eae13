"""Faults in the session state machine: ending, leaving, kicking, permissions, meeting
status and the classroom timer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from conformance.reference.faults.base import (
    fault,
    filter_emits,
    patch,
    rewrite_client_messages,
)
from conformance.reference.sessions import HOST_ENDED, Refused

if TYPE_CHECKING:
    from conformance.reference.app import Reference
    from conformance.reference.sessions import Peer


# -- ending a session ------------------------------------------------------------------------


@fault("kick_all_wrong_count", "END-01")
def _kick_all_wrong_count(ref: Reference) -> None:
    """REST kick-all reports one participant more than it removed."""
    patch(ref.sessions, "end_meeting_session", lambda end: lambda scope, mid: end(scope, mid) + 1)


@fault("kick_all_leaves_one_connected", "END-02", "END-05")
def _kick_all_leaves_one(ref: Reference) -> None:
    """An end removes everyone but the most recent joiner, who stays connected and hears nothing."""
    s = ref.sessions

    def make(end: Callable[..., int]) -> Callable[..., int]:
        def end_session(session_id: str, reason: str) -> int:
            live = s.live.get(session_id)
            spared = None
            if live and len(live.peers) > 1:
                spared = live.peers.pop(list(live.peers)[-1])
            removed = end(session_id, reason)
            return removed + (1 if spared else 0)

        return end_session

    patch(s, "end_session", make)


@fault("ended_says_left", "END-02", "END-05")
def _ended_says_left(ref: Reference) -> None:
    """After an end, clients are told roomLeft `left` instead of `ended`."""
    rewrite_client_messages(
        ref, lambda m: {**m, "state": "left"} if m.get("type") == "roomLeft" and m.get("state") == "ended" else m
    )


@fault("end_keeps_session_live", "END-03")
def _end_keeps_session_live(ref: Reference) -> None:
    """Everyone is removed, but the session record stays LIVE with no ended_at."""
    s = ref.sessions

    def make(end: Callable[..., int]) -> Callable[..., int]:
        def end_session(session_id: str, reason: str) -> int:
            removed = end(session_id, reason)
            doc = s.storage.get("sessions", session_id)
            if doc:
                doc.update(status="LIVE", ended_at=None)
                s.storage.put("sessions", doc, scope=doc["scope"], parent=doc["associated_id"])
            return removed

        return end_session

    patch(s, "end_session", make)


@fault("end_keeps_recording", "END-04")
def _end_keeps_recording(ref: Reference) -> None:
    """Ending a session leaves its recording running."""
    patch(ref.sessions.recordings, "stop_for_session", lambda stop: lambda *a, **k: None)


@fault("client_kick_all_kicks_others", "END-05")
def _client_kick_all_kicks(ref: Reference) -> None:
    """A client kickAll removes the others one by one (`kicked`) and leaves the session LIVE."""
    s = ref.sessions

    def make(kick_all: Callable[..., int]) -> Callable[..., int]:
        def client_kick_all(caller: Peer, reply_to: str | None = None) -> int:
            if not caller.preset["permissions"].get("kick_participant"):
                return kick_all(caller, reply_to)
            others = [p for p in s._peers_of(caller.session_id).values() if p.id != caller.id]
            caller.connection.send({"type": "ack", "reply_to": reply_to, "kicked_participants_count": len(others)})
            for peer in others:
                s.kick(peer)
            return len(others)

        return client_kick_all

    patch(s, "client_kick_all", make)


@fault("kick_all_without_session_succeeds", "END-06")
def _kick_all_no_session(ref: Reference) -> None:
    """Kick-all on a meeting with no live session answers 200 with a count of 0."""
    s = ref.sessions

    def make(end: Callable[..., int]) -> Callable[..., int]:
        def end_meeting_session(scope: str, meeting_id: str) -> int:
            if s.live_session_doc(scope, meeting_id) is None:
                return 0
            return end(scope, meeting_id)

        return end_meeting_session

    patch(s, "end_meeting_session", make)


@fault("second_end_fires_again", "END-07")
def _second_end(ref: Reference) -> None:
    """Ending an already-ended session answers 200 and sends meeting.ended again."""
    s = ref.sessions

    def make(end: Callable[..., int]) -> Callable[..., int]:
        def end_meeting_session(scope: str, meeting_id: str) -> int:
            if s.live_session_doc(scope, meeting_id) is not None:
                return end(scope, meeting_id)
            ended = s.storage.list("sessions", scope=scope, parent=meeting_id)
            if not ended:
                return end(scope, meeting_id)
            s.dispatcher.emit(
                scope, "meeting.ended", {"meeting": s.meeting_payload(ended[-1]["id"]), "reason": HOST_ENDED}
            )
            return 0

        return end_meeting_session

    patch(s, "end_meeting_session", make)


@fault("meeting_ended_not_sent", "END-08", "CLASS-01")
def _ended_not_sent(ref: Reference) -> None:
    """No meeting.ended webhook is ever sent."""
    filter_emits(ref, lambda e, p: [] if e == "meeting.ended" else [(e, p)])


@fault("meeting_ended_twice", "END-08")
def _ended_twice(ref: Reference) -> None:
    """meeting.ended is sent twice for one end (two distinct deliveries)."""
    filter_emits(ref, lambda e, p: [(e, p), (e, p)] if e == "meeting.ended" else [(e, p)])


@fault("meeting_ended_wrong_reason", "END-08")
def _ended_wrong_reason(ref: Reference) -> None:
    """An end by the host is reported with reason ALL_PARTICIPANTS_LEFT."""
    filter_emits(
        ref, lambda e, p: [(e, {**p, "reason": "ALL_PARTICIPANTS_LEFT"})] if e == "meeting.ended" else [(e, p)]
    )


@fault("join_reopens_ended_session", "END-09", "MEET-01")
def _join_reopens(ref: Reference) -> None:
    """A join after an end reopens the ended session (same id) instead of starting a new one."""
    s = ref.sessions

    def make(start: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def start_session(scope: str, meeting: dict[str, Any]) -> dict[str, Any]:
            previous = s.storage.list("sessions", scope=scope, parent=meeting["id"])
            if not previous:
                return start(scope, meeting)
            doc = previous[-1]
            doc.update(status="LIVE", ended_at=None)
            s._save_session(doc)
            return doc

        return start_session

    patch(s, "_start_session", make)


# -- leaving and kicking ---------------------------------------------------------------------


@fault("leave_ends_session", "LEAVE-01")
def _leave_ends(ref: Reference) -> None:
    """A participant leaving ends the session for everyone."""
    s = ref.sessions

    def make(leave: Callable[..., None]) -> Callable[..., None]:
        def leave_all(peer: Peer, reply_to: str | None = None) -> None:
            peer.connection.send({"type": "ack", "reply_to": reply_to})
            s.end_session(peer.session_id, HOST_ENDED)

        return leave_all

    patch(s, "leave", make)


@fault("participant_left_not_told", "LEAVE-02")
def _left_not_told(ref: Reference) -> None:
    """Others are not told when a participant leaves (no participantLeft, no webhook)."""
    rewrite_client_messages(ref, lambda m: None if m.get("type") == "participantLeft" else m)
    filter_emits(ref, lambda e, p: [] if e == "meeting.participantLeft" else [(e, p)])


@fault("participant_joined_not_sent", "JOIN-01")
def _joined_not_sent(ref: Reference) -> None:
    """Nobody already in the session is told when another participant joins."""
    rewrite_client_messages(ref, lambda m: None if m.get("type") == "participantJoined" else m)


@fault("dropped_connection_not_told", "LEAVE-05")
def _drop_not_told(ref: Reference) -> None:
    """A participant whose socket drops is removed silently: the others get no participantLeft."""
    rewrite_client_messages(
        ref, lambda m: None if m.get("type") == "participantLeft" and m.get("reason") == "disconnected" else m
    )


@fault("host_leave_ends_session", "LEAVE-03", "CLASS-02")
def _host_leave_ends(ref: Reference) -> None:
    """The host leaving ends the session at once, with no grace period."""
    s = ref.sessions

    def make(start: Callable[..., None]) -> Callable[..., None]:
        def grace(live: Any) -> None:
            s.end_session(live.id, HOST_ENDED)

        return grace

    patch(s, "_start_host_grace", make)


@fault("keep_alive_never_ends", "LEAVE-04")
def _keep_alive_never(ref: Reference) -> None:
    """An empty session is never ended after the keep-alive time."""
    patch(ref.sessions, "_start_keep_alive", lambda start: lambda live: None)


@fault("keep_alive_ends_at_once", "LEAVE-04")
def _keep_alive_at_once(ref: Reference) -> None:
    """The session ends the moment the last participant leaves, ignoring the keep-alive window."""
    s = ref.sessions
    patch(s, "_start_keep_alive", lambda start: lambda live: s.end_session(live.id, "ALL_PARTICIPANTS_LEFT"))


@fault("kick_ends_session", "KICK-01")
def _kick_ends(ref: Reference) -> None:
    """Removing one participant through the API ends the session for everyone."""
    s = ref.sessions

    def make(kick: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        def kick_participants(scope: str, meeting_id: str, ids: list[str], custom: list[str]) -> list[Any]:
            live_doc = s.live_session_doc(scope, meeting_id)
            live = s.live.get(live_doc["id"]) if live_doc else None
            targets = [
                p
                for p in (live.peers.values() if live else [])
                if p.participant["id"] in ids or p.participant["custom_participant_id"] in custom
            ]
            if not targets:
                return kick(scope, meeting_id, ids, custom)
            s.end_session(live_doc["id"], HOST_ENDED)
            return targets

        return kick_participants

    patch(s, "kick_participants", make)


# -- permissions -----------------------------------------------------------------------------


def _as_host(peer: Peer) -> Peer:

    preset = {**peer.preset, "permissions": {**peer.preset["permissions"], "kick_participant": True}}
    return replace(peer, preset=preset)


@fault("kick_all_ignores_permission", "PERM-01")
def _kick_all_ignores(ref: Reference) -> None:
    """A client kickAll works without the kick_participant permission (no 1201)."""
    patch(
        ref.sessions,
        "client_kick_all",
        lambda kick_all: lambda caller, reply_to=None: kick_all(_as_host(caller), reply_to),
    )


@fault("permission_flag_always_true", "PERM-02")
def _flag_true(ref: Reference) -> None:
    """The client's permissions.kickParticipant is true for everyone."""
    patch(ref.sessions, "client_permissions", lambda perms: lambda preset: {**perms(preset), "kickParticipant": True})


@fault("kick_ignores_permission", "PERM-03")
def _kick_ignores(ref: Reference) -> None:
    """A client kick works without the kick_participant permission (no 1201)."""
    patch(
        ref.sessions,
        "client_kick",
        lambda kick: lambda caller, target, reply_to=None: kick(_as_host(caller), target, reply_to),
    )


@fault("missing_token_accepted", "PERM-04")
def _missing_token(ref: Reference) -> None:
    """A request without credentials is treated as the admin token."""
    tokens = ref.api.tokens
    admin = tokens.identify(f"Bearer {ref.settings.credentials.admin_token}")
    patch(tokens, "identify", lambda identify: lambda header: admin if not header else identify(header))


@fault("token_permission_ignored", "PERM-04")
def _permission_ignored(ref: Reference) -> None:
    """Tokens without the Realtime permission (or read-only ones) may do everything."""
    patch(
        ref.api.tokens,
        "authorize",
        lambda authorize: (
            lambda token, account_id, app_id, *, write: (
                f"{account_id}/{app_id}"
                if (token.account_id, token.app_id) == (account_id, app_id)
                else authorize(token, account_id, app_id, write=write)
            )
        ),
    )


@fault("cross_account_access", "PERM-05")
def _cross_account(ref: Reference) -> None:
    """Any valid token may read and change any account's meetings."""
    patch(
        ref.api.tokens,
        "authorize",
        lambda authorize: lambda token, account_id, app_id, *, write: f"{account_id}/{app_id}",
    )


# -- meeting vs session ----------------------------------------------------------------------


@fault("end_deactivates_meeting", "MEET-01", "CLASS-05")
def _end_deactivates(ref: Reference) -> None:
    """Ending a session also sets the meeting INACTIVE, so nobody can start a new one."""
    s = ref.sessions

    def make(end: Callable[..., int]) -> Callable[..., int]:
        def end_session(session_id: str, reason: str) -> int:
            doc = s.storage.get("sessions", session_id)
            removed = end(session_id, reason)
            meeting = s.storage.get("meetings", doc["associated_id"]) if doc else None
            if meeting:
                meeting["status"] = "INACTIVE"
                s.storage.put("meetings", meeting, scope=meeting["scope"])
            return removed

        return end_session

    patch(s, "end_session", make)


@fault("inactive_ignored", "MEET-02")
def _inactive_ignored(ref: Reference) -> None:
    """Joins into an INACTIVE meeting are let in."""
    patch(ref.sessions, "admit", lambda admit: lambda meeting, participant: None)


@fault("invalid_status_accepted", "MEET-03")
def _invalid_status(ref: Reference) -> None:
    """PATCH meeting accepts any status value (and any body) without validation."""
    validator = ref.api.validator
    patch(
        validator,
        "body",
        lambda body: lambda op, value, *, present: None if op == "updateMeeting" else body(op, value, present=present),
    )


# -- classroom -------------------------------------------------------------------------------


@fault("host_grace_never_fires", "CLASS-01")
def _grace_never(ref: Reference) -> None:
    """The host grace timer never ends the session."""
    patch(ref.sessions, "_start_host_grace", lambda start: lambda live: None)


@fault("host_return_ignored", "CLASS-02")
def _return_ignored(ref: Reference) -> None:
    """The host coming back does not cancel the grace timer."""
    s = ref.sessions

    def make(join: Callable[..., Any]) -> Callable[..., Any]:
        def join_keeping_timer(participant: dict[str, Any], connection: Any, reply_to: str | None = None) -> Any:
            live = s.live_session_doc(participant["scope"], participant["meeting_id"])
            key = f"grace:{live['id']}" if live else None
            due = s.scheduler.pending(key) if key else None
            peer = join(participant, connection, reply_to)
            if key and due is not None and s.scheduler.pending(key) is None:
                session_id = live["id"]

                async def expire() -> None:
                    s.end_session(session_id, HOST_ENDED)

                s.scheduler.call_at(key, due, expire)
            return peer

        return join_keeping_timer

    patch(s, "join", make)


@fault("grace_reset_by_others", "CLASS-03")
def _grace_reset(ref: Reference) -> None:
    """Any other participant joining or leaving restarts the host's grace timer."""
    s = ref.sessions

    def restart(session_id: str) -> None:
        live = s.live.get(session_id)
        if live is not None and s.scheduler.pending(f"grace:{session_id}") is not None:
            s._start_host_grace(live)

    def make_join(join: Callable[..., Any]) -> Callable[..., Any]:
        def join_and_restart(participant: dict[str, Any], connection: Any, reply_to: str | None = None) -> Any:
            peer = join(participant, connection, reply_to)
            restart(peer.session_id)
            return peer

        return join_and_restart

    def make_leave(leave: Callable[..., None]) -> Callable[..., None]:
        def leave_and_restart(peer: Peer, reply_to: str | None = None) -> None:
            leave(peer, reply_to)
            if not peer.is_host:
                restart(peer.session_id)

        return leave_and_restart

    patch(s, "join", make_join)
    patch(s, "leave", make_leave)


@fault("rejoin_refused", "CLASS-04")
def _rejoin_refused(ref: Reference) -> None:
    """A participant who left cannot join the same live session again."""
    s = ref.sessions
    gone: set[tuple[str, str]] = set()

    def make_join(join: Callable[..., Any]) -> Callable[..., Any]:
        def join_once(participant: dict[str, Any], connection: Any, reply_to: str | None = None) -> Any:
            live = s.live_session_doc(participant["scope"], participant["meeting_id"])
            if live and (live["id"], participant["id"]) in gone:
                raise Refused(1209, "participant has been removed", 4003)
            return join(participant, connection, reply_to)

        return join_once

    def make_leave(leave: Callable[..., None]) -> Callable[..., None]:
        def leave_and_remember(peer: Peer, reply_to: str | None = None) -> None:
            gone.add((peer.session_id, peer.participant["id"]))
            leave(peer, reply_to)

        return leave_and_remember

    patch(s, "join", make_join)
    patch(s, "leave", make_leave)


@fault("no_restart_after_end", "CLASS-05", "MEET-01")
def _no_restart(ref: Reference) -> None:
    """After an end, nobody can start a new session of the meeting."""
    s = ref.sessions

    def make(admit: Callable[..., None]) -> Callable[..., None]:
        def admit_unless_ended(meeting: dict[str, Any], participant: dict[str, Any]) -> None:
            admit(meeting, participant)
            sessions = s.storage.list("sessions", scope=meeting["scope"], parent=meeting["id"])
            if sessions and all(x["status"] == "ENDED" for x in sessions):
                raise Refused(1005, "this meeting's session has ended", 4003)

        return admit_unless_ended

    patch(s, "admit", make)


@fault("websocket_dropped_after_join", "END-02", "LEAVE-01")
def _drop_after_join(ref: Reference) -> None:
    """Every participant's WebSocket is dropped right after it joined (a flaky realtime edge)."""

    def make(join: Callable[..., Any]) -> Callable[..., Any]:
        def join_then_drop(participant: dict[str, Any], connection: Any, reply_to: str | None = None) -> Any:
            peer = join(participant, connection, reply_to)
            connection.close(1011)  # queued after roomJoined: the client sees it join, then lose the link
            return peer

        return join_then_drop

    patch(ref.sessions, "join", make)
