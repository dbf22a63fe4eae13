"""Deliberately broken behaviours, each proving that some check of the suite can fail.

Every fault names the requirement(s) whose checks must catch it. A fault is applied from
outside: it wraps methods on one built `Reference` instance (or wraps its ASGI app), so the
reference implementation itself carries no test-only branches. `conformance serve --fault
NAME` and `conformance selftest` switch them on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any

from conformance.reference.sessions import HOST_ENDED, Refused

if TYPE_CHECKING:
    from conformance.reference.app import Reference
    from conformance.reference.sessions import Connection, Peer


@dataclass(frozen=True)
class Fault:
    name: str
    requirements: tuple[str, ...]
    description: str
    apply: Callable[[Reference], None]


FAULTS: dict[str, Fault] = {}


def fault(name: str, *requirements: str) -> Callable[[Callable[[Reference], None]], Callable[[Reference], None]]:
    def register(fn: Callable[[Reference], None]) -> Callable[[Reference], None]:
        doc = " ".join((fn.__doc__ or "").split())
        FAULTS[name] = Fault(name, requirements, doc, fn)
        return fn

    return register


def apply_faults(reference: Reference, names: tuple[str, ...] | list[str]) -> None:
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(sorted(FAULTS))}")
    for name in names:
        FAULTS[name].apply(reference)


def _patch(obj: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(obj, name)
    setattr(obj, name, wraps(original)(make(original)))


class _RewritingConnection:
    """A participant connection whose outgoing messages pass through `rewrite` (None drops)."""

    def __init__(self, inner: Connection, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        self.inner = inner
        self.rewrite = rewrite

    def send(self, message: dict[str, Any]) -> None:
        changed = self.rewrite(dict(message))
        if changed is not None:
            self.inner.send(changed)

    def close(self, code: int = 1000) -> None:
        self.inner.close(code)


def _rewrite_client_messages(ref: Reference, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    _patch(ref.sessions, "join", lambda join: lambda participant, connection, reply_to=None: join(
        participant, _RewritingConnection(connection, rewrite), reply_to))


def _rewrite_json_responses(ref: Reference, rewrite: Callable[[str, int, Any], tuple[int, bytes, str] | None]) -> None:
    """Wrap the ASGI app: `rewrite(path, status, body_json)` may replace status/body/content-type."""
    inner = ref.app

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await _emit(scope["path"], start, b"".join(chunks), send, rewrite)
            else:
                await send(message)

        await inner(scope, receive, capture)

    ref.app = app  # type: ignore[assignment]


async def _emit(path: str, start: dict[str, Any], body: bytes, send: Any,
                rewrite: Callable[[str, int, Any], tuple[int, bytes, str] | None]) -> None:
    status = start["status"]
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"content-type")]
    content_type = dict(start.get("headers", [])).get(b"content-type", b"application/json").decode()
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    replaced = rewrite(path, status, parsed) if parsed is not None else None
    if replaced is not None:
        status, body, content_type = replaced
    headers += [(b"content-length", str(len(body)).encode()), (b"content-type", content_type.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _dumps(data: Any) -> bytes:
    return json.dumps(data).encode()


# -- ending a session ------------------------------------------------------------------------

@fault("kick_all_wrong_count", "END-01")
def _kick_all_wrong_count(ref: Reference) -> None:
    """REST kick-all reports one participant more than it removed."""
    _patch(ref.sessions, "end_meeting_session", lambda end: lambda scope, mid: end(scope, mid) + 1)


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

    _patch(s, "end_session", make)


@fault("ended_says_left", "END-02", "END-05")
def _ended_says_left(ref: Reference) -> None:
    """After an end, clients are told roomLeft `left` instead of `ended`."""
    _rewrite_client_messages(ref, lambda m: {**m, "state": "left"} if m.get("type") == "roomLeft" and m.get("state") == "ended" else m)


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

    _patch(s, "end_session", make)


@fault("end_keeps_recording", "END-04")
def _end_keeps_recording(ref: Reference) -> None:
    """Ending a session leaves its recording running."""
    _patch(ref.sessions.recordings, "stop_for_session", lambda stop: lambda *a, **k: None)


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

    _patch(s, "client_kick_all", make)


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

    _patch(s, "end_meeting_session", make)


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
            s.dispatcher.emit(scope, "meeting.ended", {"meeting": s.meeting_payload(ended[-1]["id"]), "reason": HOST_ENDED})
            return 0
        return end_meeting_session

    _patch(s, "end_meeting_session", make)


def _filter_emits(ref: Reference, change: Callable[[str, dict[str, Any]], list[tuple[str, dict[str, Any]]]]) -> None:
    d = ref.dispatcher

    def make(emit: Callable[..., None]) -> Callable[..., None]:
        def filtered(scope: str, event: str, payload: dict[str, Any]) -> None:
            for name, body in change(event, payload):
                emit(scope, name, body)
        return filtered

    _patch(d, "emit", make)


@fault("meeting_ended_not_sent", "END-08", "CLASS-01")
def _ended_not_sent(ref: Reference) -> None:
    """No meeting.ended webhook is ever sent."""
    _filter_emits(ref, lambda e, p: [] if e == "meeting.ended" else [(e, p)])


@fault("meeting_ended_twice", "END-08")
def _ended_twice(ref: Reference) -> None:
    """meeting.ended is sent twice for one end (two distinct deliveries)."""
    _filter_emits(ref, lambda e, p: [(e, p), (e, p)] if e == "meeting.ended" else [(e, p)])


@fault("meeting_ended_wrong_reason", "END-08")
def _ended_wrong_reason(ref: Reference) -> None:
    """An end by the host is reported with reason ALL_PARTICIPANTS_LEFT."""
    _filter_emits(ref, lambda e, p: [(e, {**p, "reason": "ALL_PARTICIPANTS_LEFT"})] if e == "meeting.ended" else [(e, p)])


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

    _patch(s, "_start_session", make)


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

    _patch(s, "leave", make)


@fault("participant_left_not_told", "LEAVE-02")
def _left_not_told(ref: Reference) -> None:
    """Others are not told when a participant leaves (no participantLeft, no webhook)."""
    _rewrite_client_messages(ref, lambda m: None if m.get("type") == "participantLeft" else m)
    _filter_emits(ref, lambda e, p: [] if e == "meeting.participantLeft" else [(e, p)])


@fault("host_leave_ends_session", "LEAVE-03", "CLASS-02")
def _host_leave_ends(ref: Reference) -> None:
    """The host leaving ends the session at once, with no grace period."""
    s = ref.sessions

    def make(start: Callable[..., None]) -> Callable[..., None]:
        def grace(live: Any) -> None:
            s.end_session(live.id, HOST_ENDED)
        return grace

    _patch(s, "_start_host_grace", make)


@fault("keep_alive_never_ends", "LEAVE-04")
def _keep_alive_never(ref: Reference) -> None:
    """An empty session is never ended after the keep-alive time."""
    _patch(ref.sessions, "_start_keep_alive", lambda start: lambda live: None)


@fault("keep_alive_ends_at_once", "LEAVE-04")
def _keep_alive_at_once(ref: Reference) -> None:
    """The session ends the moment the last participant leaves, ignoring the keep-alive window."""
    s = ref.sessions
    _patch(s, "_start_keep_alive", lambda start: lambda live: s.end_session(live.id, "ALL_PARTICIPANTS_LEFT"))


@fault("kick_ends_session", "KICK-01")
def _kick_ends(ref: Reference) -> None:
    """Removing one participant through the API ends the session for everyone."""
    s = ref.sessions

    def make(kick: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        def kick_participants(scope: str, meeting_id: str, ids: list[str], custom: list[str]) -> list[Any]:
            live_doc = s.live_session_doc(scope, meeting_id)
            live = s.live.get(live_doc["id"]) if live_doc else None
            targets = [p for p in (live.peers.values() if live else [])
                       if p.participant["id"] in ids or p.participant["custom_participant_id"] in custom]
            if not targets:
                return kick(scope, meeting_id, ids, custom)
            s.end_session(live_doc["id"], HOST_ENDED)
            return targets
        return kick_participants

    _patch(s, "kick_participants", make)


# -- permissions -----------------------------------------------------------------------------

def _as_host(peer: Peer) -> Peer:
    from dataclasses import replace

    preset = {**peer.preset, "permissions": {**peer.preset["permissions"], "kick_participant": True}}
    return replace(peer, preset=preset)


@fault("kick_all_ignores_permission", "PERM-01")
def _kick_all_ignores(ref: Reference) -> None:
    """A client kickAll works without the kick_participant permission (no 1201)."""
    _patch(ref.sessions, "client_kick_all", lambda kick_all: lambda caller, reply_to=None: kick_all(_as_host(caller), reply_to))


@fault("permission_flag_always_true", "PERM-02")
def _flag_true(ref: Reference) -> None:
    """The client's permissions.kickParticipant is true for everyone."""
    _patch(ref.sessions, "client_permissions", lambda perms: lambda preset: {**perms(preset), "kickParticipant": True})


@fault("kick_ignores_permission", "PERM-03")
def _kick_ignores(ref: Reference) -> None:
    """A client kick works without the kick_participant permission (no 1201)."""
    _patch(ref.sessions, "client_kick", lambda kick: lambda caller, target, reply_to=None: kick(_as_host(caller), target, reply_to))


@fault("missing_token_accepted", "PERM-04")
def _missing_token(ref: Reference) -> None:
    """A request without credentials is treated as the admin token."""
    tokens = ref.api.tokens
    admin = tokens.identify(f"Bearer {ref.settings.credentials.admin_token}")
    _patch(tokens, "identify", lambda identify: lambda header: admin if not header else identify(header))


@fault("token_permission_ignored", "PERM-04")
def _permission_ignored(ref: Reference) -> None:
    """Tokens without the Realtime permission (or read-only ones) may do everything."""
    _patch(ref.api.tokens, "authorize", lambda authorize: lambda token, account_id, app_id, *, write: (
        f"{account_id}/{app_id}" if (token.account_id, token.app_id) == (account_id, app_id)
        else authorize(token, account_id, app_id, write=write)))


@fault("cross_account_access", "PERM-05")
def _cross_account(ref: Reference) -> None:
    """Any valid token may read and change any account's meetings."""
    _patch(ref.api.tokens, "authorize", lambda authorize: lambda token, account_id, app_id, *, write: f"{account_id}/{app_id}")


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

    _patch(s, "end_session", make)


@fault("inactive_ignored", "MEET-02")
def _inactive_ignored(ref: Reference) -> None:
    """Joins into an INACTIVE meeting are let in."""
    _patch(ref.sessions, "admit", lambda admit: lambda meeting, participant: None)


@fault("invalid_status_accepted", "MEET-03")
def _invalid_status(ref: Reference) -> None:
    """PATCH meeting accepts any status value (and any body) without validation."""
    validator = ref.api.validator
    _patch(validator, "body", lambda body: lambda op, value, *, present: None if op == "updateMeeting" else body(op, value, present=present))


# -- webhooks --------------------------------------------------------------------------------

@fault("webhook_filter_ignored", "WH-01")
def _filter_ignored(ref: Reference) -> None:
    """Every enabled webhook receives every event, subscribed or not."""
    d = ref.dispatcher
    _patch(d, "subscribers", lambda subs: lambda scope, event: d.storage.list("webhooks", scope=scope, where=lambda w: w["enabled"]))


@fault("disabled_webhook_delivers", "WH-01")
def _disabled_delivers(ref: Reference) -> None:
    """A disabled webhook still receives its events."""
    d = ref.dispatcher
    _patch(d, "subscribers", lambda subs: lambda scope, event: d.storage.list("webhooks", scope=scope, where=lambda w: event in w["events"]))
    _patch(d, "drop_pending", lambda drop: lambda webhook_id: None)
    original_attempt = d._attempt

    async def attempt(webhook_id: str, row: dict[str, Any]) -> None:
        webhook = d.storage.get("webhooks", webhook_id)
        if webhook and not webhook["enabled"]:
            webhook = {**webhook, "enabled": True}
            d.storage.put("webhooks", webhook, scope=webhook["scope"])
            try:
                await original_attempt(webhook_id, row)
            finally:
                webhook["enabled"] = False
                d.storage.put("webhooks", webhook, scope=webhook["scope"])
            return
        await original_attempt(webhook_id, row)

    d._attempt = attempt  # type: ignore[method-assign]


@fault("bad_signature", "WH-02")
def _bad_signature(ref: Reference) -> None:
    """rtk-signature is computed over different bytes than the body sent."""
    signer = ref.dispatcher.signer
    _patch(signer, "sign", lambda sign: lambda body: sign(body + b" "))


@fault("wrong_webhook_id_header", "WH-02")
def _wrong_webhook_id(ref: Reference) -> None:
    """rtk-webhook-id carries a random id instead of the webhook's."""
    d = ref.dispatcher
    _patch(d, "delivery_headers", lambda headers: lambda webhook, row, body: {
        **headers(webhook, row, body), "rtk-webhook-id": str(uuid.uuid4())})


@fault("retry_on_4xx", "WH-03")
def _retry_4xx(ref: Reference) -> None:
    """A receiver answering 4xx is retried like a 5xx."""
    d = ref.dispatcher
    _patch(d, "settle", lambda settle: lambda row, status: settle(row, 503 if status is not None and 400 <= status < 500 else status))


@fault("no_retry_on_5xx", "WH-03")
def _no_retry_5xx(ref: Reference) -> None:
    """A receiver answering 5xx (or not answering) is given up at once."""
    d = ref.dispatcher
    _patch(d, "settle", lambda settle: lambda row, status: settle(row, 400 if status is None or status >= 500 else status))


@fault("new_uuid_per_retry", "WH-04")
def _new_uuid(ref: Reference) -> None:
    """Each retry of one event carries a fresh rtk-uuid."""
    d = ref.dispatcher

    def make(settle: Callable[..., None]) -> Callable[..., None]:
        def settle_and_rename(row: dict[str, Any], status: int | None) -> None:
            settle(row, status)
            if row["state"] == "pending":
                row["uuid"] = str(uuid.uuid4())
        return settle_and_rename

    _patch(d, "settle", make)


@fault("ended_before_left", "WH-05")
def _ended_before_left(ref: Reference) -> None:
    """meeting.ended is delivered before the participantLeft events of the same end."""
    s = ref.sessions
    d = ref.dispatcher

    def make(end: Callable[..., int]) -> Callable[..., int]:
        def end_session(session_id: str, reason: str) -> int:
            held: list[tuple[str, str, dict[str, Any]]] = []
            emit = d.emit
            d.emit = lambda scope, event, payload: held.append((scope, event, payload))  # type: ignore[method-assign]
            try:
                removed = end(session_id, reason)
            finally:
                d.emit = emit  # type: ignore[method-assign]
            for item in sorted(held, key=lambda h: h[1] != "meeting.ended"):
                emit(*item)
            return removed
        return end_session

    _patch(s, "end_session", make)


# -- the REST surface ------------------------------------------------------------------------

@fault("session_count_as_string", "API-01")
def _count_as_string(ref: Reference) -> None:
    """Session objects carry live_participants as a string instead of an integer."""
    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict) and "live_participants" in data:
            data["live_participants"] = str(data["live_participants"])
            return status, _dumps(body), "application/json"
        return None

    _rewrite_json_responses(ref, rewrite)


@fault("server_error_on_long_title", "API-01")
def _error_on_long_title(ref: Reference) -> None:
    """Creating a meeting with a title longer than 200 characters crashes with a 500."""
    validator = ref.api.validator

    def make(body: Callable[..., None]) -> Callable[..., None]:
        def check(op: str, value: Any, *, present: bool) -> None:
            body(op, value, present=present)
            if op == "createMeeting" and isinstance(value, dict) and len(str(value.get("title") or "")) > 200:
                raise RuntimeError("title column overflow")
        return check

    _patch(validator, "body", make)


@fault("error_envelope_missing", "API-02")
def _no_envelope(ref: Reference) -> None:
    """Errors are answered with a plain-text body instead of the error envelope."""
    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if status >= 400:
            return status, b"Not Found" if status == 404 else b"Error", "text/plain"
        return None

    _rewrite_json_responses(ref, rewrite)


@fault("error_code_mismatch", "API-02")
def _code_mismatch(ref: Reference) -> None:
    """The error envelope's code is always 1000 instead of the HTTP status."""
    def rewrite(path: str, status: int, body: Any) -> tuple[int, bytes, str] | None:
        if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), dict):
            body["error"]["code"] = 1000
            return status, _dumps(body), "application/json"
        return None

    _rewrite_json_responses(ref, rewrite)


# -- classroom -------------------------------------------------------------------------------

@fault("host_grace_never_fires", "CLASS-01")
def _grace_never(ref: Reference) -> None:
    """The host grace timer never ends the session."""
    _patch(ref.sessions, "_start_host_grace", lambda start: lambda live: None)


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

    _patch(s, "join", make)


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

    _patch(s, "join", make_join)
    _patch(s, "leave", make_leave)


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

    _patch(s, "join", make_join)
    _patch(s, "leave", make_leave)


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

    _patch(s, "admit", make)
