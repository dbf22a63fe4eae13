"""The meeting/session state machine: who is in which live session, and how sessions end.

    join ──► session LIVE (started on first join) ──► ENDED
              │  leave / drop: that peer only ("left"); last one out starts keep-alive
              │  kick: that peer only ("kicked")
              │  kick-all (REST or client), host grace expiry, meeting set INACTIVE:
              │      everyone gets roomLeft "ended", recordings stop, meeting.ended fires
              └─ keep-alive expiry with nobody present: meeting.ended ALL_PARTICIPANTS_LEFT

Every state change here is synchronous (no `await` inside), so on one event loop each is
atomic: a kick-all cannot interleave with a join. Connections are written to through
queues (see hub.py), timers through the Scheduler, webhooks through the outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.reference.clock import Clock, Scheduler
from conformance.reference.recordings import RecordingService
from conformance.reference.storage import Doc, Storage
from conformance.reference.webhooks import WebhookDispatcher

HOST_ENDED = "HOST_ENDED_MEETING"
ALL_LEFT = "ALL_PARTICIPANTS_LEFT"

# REST preset permission -> the client SDK's `meeting.self.permissions` name
CLIENT_PERMISSIONS = {
    "kick_participant": "kickParticipant",
    "pin_participant": "pinParticipant",
    "disable_participant_audio": "canDisableParticipantAudio",
    "disable_participant_video": "canDisableParticipantVideo",
    "disable_participant_screensharing": "canDisableParticipantScreensharing",
    "can_record": "canRecord",
    "can_livestream": "canLivestream",
    "accept_waiting_requests": "acceptWaitingRequests",
    "show_participant_list": "showParticipantList",
    "can_change_participant_permissions": "canChangeParticipantPermissions",
    "hidden_participant": "hiddenParticipant",
    "can_spotlight": "canSpotlight",
}


class Connection(Protocol):
    def send(self, message: dict[str, Any]) -> None: ...
    def close(self, code: int = 1000) -> None: ...


class Refused(Exception):
    """A realtime request refused with a RealtimeKit client error code."""

    def __init__(self, code: int, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code


class NoLiveSession(Exception):
    pass


@dataclass
class Peer:
    id: str
    session_id: str
    scope: str
    participant: Doc
    preset: Doc
    connection: Connection
    joined_at: float
    joined_iso: str  # formatted once: a kick-all writes it for every peer

    @property
    def is_host(self) -> bool:
        return bool(self.preset["permissions"].get("kick_participant"))

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "participant_id": self.participant["id"],
            "custom_participant_id": self.participant["custom_participant_id"],
            "name": self.participant.get("name"),
            "preset_name": self.preset["name"],
        }


@dataclass
class LiveSession:
    id: str
    scope: str
    meeting_id: str
    peers: dict[str, Peer] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionSettings:
    host_grace_seconds: float = 900.0


class SessionService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        scheduler: Scheduler,
        dispatcher: WebhookDispatcher,
        settings: SessionSettings,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.scheduler = scheduler
        self.dispatcher = dispatcher
        self.settings = settings
        self.recordings = RecordingService(storage, clock, scheduler, dispatcher, self.meeting_payload)
        self.live: dict[str, LiveSession] = {}

    # -- reading ---------------------------------------------------------------------------

    def live_session_doc(self, scope: str, meeting_id: str) -> Doc | None:
        found = self.storage.list("sessions", scope=scope, parent=meeting_id, where=lambda s: s["status"] == "LIVE")
        return found[-1] if found else None

    def meeting_payload(self, session_id: str | None) -> dict[str, Any]:
        session = self.storage.get("sessions", session_id) if session_id else None
        if session is None:
            return {}
        meeting = self.storage.get("meetings", session["associated_id"]) or {}
        payload = {
            "id": session["associated_id"],
            "sessionId": session["id"],
            "title": meeting.get("title"),
            "roomName": session["associated_id"],
            "status": session["status"],
            "createdAt": session["created_at"],
            "startedAt": session["started_at"],
            "organizedBy": {"id": session["organization_id"], "name": session["organization_id"]},
        }
        if session.get("ended_at"):
            payload["endedAt"] = session["ended_at"]
        return payload

    @staticmethod
    def client_permissions(preset: Doc) -> dict[str, Any]:
        granted = preset["permissions"]
        return {client: bool(granted.get(rest)) for rest, client in CLIENT_PERMISSIONS.items()}

    # -- joining ---------------------------------------------------------------------------

    def join(self, participant: Doc, connection: Connection, reply_to: str | None = None) -> Peer:
        scope = participant["scope"]
        meeting = self.storage.get("meetings", participant["meeting_id"], scope=scope)
        if meeting is None:
            raise Refused(4, "invalid auth token: the meeting no longer exists", 4001)
        self.admit(meeting, participant)
        preset = self.storage.get("presets", participant["preset_id"], scope=scope)
        if preset is None:
            raise Refused(4, "invalid auth token: the participant's preset was deleted", 4001)

        session_doc = self.live_session_doc(scope, meeting["id"])
        started = session_doc is None
        if session_doc is None:
            session_doc = self._start_session(scope, meeting)
        live = self.live.setdefault(session_doc["id"], LiveSession(session_doc["id"], scope, meeting["id"]))
        joined_at = self.clock.now()
        peer = Peer(
            str(uuid.uuid4()),
            session_doc["id"],
            scope,
            participant,
            preset,
            connection,
            joined_at,
            self.clock.iso(joined_at),
        )

        self.scheduler.cancel(f"keepalive:{live.id}")
        if peer.is_host:
            self.scheduler.cancel(f"grace:{live.id}")
        others = list(live.peers.values())
        live.peers[peer.id] = peer
        self._save_peer(self._peer_doc(peer, None, None, None), peer)
        session_doc["live_participants"] = len(live.peers)
        session_doc["max_concurrent_participants"] = max(session_doc["max_concurrent_participants"], len(live.peers))
        self._save_session(session_doc)

        connection.send(
            {
                "type": "roomJoined",
                "reply_to": reply_to,
                "meeting_id": meeting["id"],
                "session_id": live.id,
                "self": peer.view(),
                "permissions": self.client_permissions(preset),
                "participants": [other.view() for other in others],
            }
        )
        for other in others:
            other.connection.send({"type": "participantJoined", "participant": peer.view()})
        if started:
            self.dispatcher.emit(scope, "meeting.started", {"meeting": self.meeting_payload(live.id)})
            if meeting.get("record_on_start"):
                self.recordings.start(scope, meeting["id"], live.id, reason="RECORD_ON_START", allow_multiple=False)
        self.dispatcher.emit(
            scope,
            "meeting.participantJoined",
            {
                "meeting": self.meeting_payload(live.id),
                "participant": self._webhook_participant(peer, None),
            },
        )
        return peer

    def admit(self, meeting: Doc, participant: Doc) -> None:
        """The admission policy: an INACTIVE meeting lets nobody in."""
        if meeting["status"] != "ACTIVE":
            raise Refused(1005, "the meeting is INACTIVE: nobody can join it", 4003)

    def _start_session(self, scope: str, meeting: Doc) -> Doc:
        now = self.clock.iso()
        doc = {
            "id": str(uuid.uuid4()),
            "associated_id": meeting["id"],
            "meeting_display_name": meeting.get("title") or "",  # required, not nullable (Cloudflare)
            "organization_id": scope.split("/")[1],
            "status": "LIVE",
            "type": "meeting",
            "created_at": now,
            "started_at": now,
            "ended_at": None,
            "updated_at": now,
            "live_participants": 0,
            "max_concurrent_participants": 0,
            "minutes_consumed": 0,
            "scope": scope,
        }
        self._save_session(doc)
        return doc

    # -- one participant goes --------------------------------------------------------------

    def leave(self, peer: Peer, reply_to: str | None = None) -> None:
        peer.connection.send({"type": "ack", "reply_to": reply_to})
        self._remove(peer, room_state="left", reason="left")

    def disconnected(self, peer: Peer) -> None:
        if peer.id in self._peers_of(peer.session_id):
            self._remove(peer, room_state=None, reason="disconnected")

    def kick(self, peer: Peer) -> None:
        self._remove(peer, room_state="kicked", reason="kicked")

    def _remove(self, peer: Peer, *, room_state: str | None, reason: str) -> None:
        live = self.live.get(peer.session_id)
        if live is None or live.peers.pop(peer.id, None) is None:
            return
        left_at = self.clock.now()
        left_iso = self.clock.iso(left_at)
        if room_state:
            peer.connection.send({"type": "roomLeft", "state": room_state})
        peer.connection.close()
        for other in live.peers.values():
            other.connection.send({"type": "participantLeft", "participant": peer.view(), "reason": reason})
        self._save_peer(self._peer_doc(peer, left_at, left_iso, reason), peer)
        session_doc = self.storage.get("sessions", live.id)
        assert session_doc is not None
        session_doc["live_participants"] = len(live.peers)
        self._save_session(session_doc)
        self.dispatcher.emit(
            peer.scope,
            "meeting.participantLeft",
            {
                "meeting": self.meeting_payload(live.id),
                "participant": self._webhook_participant(peer, left_iso),
            },
        )
        if peer.is_host and not any(p.is_host for p in live.peers.values()):
            self._start_host_grace(live)
        if not live.peers:
            self._start_keep_alive(live)

    def _start_host_grace(self, live: LiveSession) -> None:
        async def expire() -> None:
            self.end_session(live.id, HOST_ENDED)

        self.scheduler.call_later(f"grace:{live.id}", self.settings.host_grace_seconds, expire)

    def _start_keep_alive(self, live: LiveSession) -> None:
        meeting = self.storage.get("meetings", live.meeting_id) or {}
        keep_alive = float(meeting.get("session_keep_alive_time_in_secs") or 60)

        async def expire() -> None:
            current = self.live.get(live.id)
            if current is not None and not current.peers:
                self.end_session(live.id, ALL_LEFT)

        self.scheduler.call_later(f"keepalive:{live.id}", keep_alive, expire)

    # -- everyone goes ---------------------------------------------------------------------

    def end_session(self, session_id: str, reason: str) -> int:
        """End a live session for everyone; returns how many participants were removed."""
        session_doc = self.storage.get("sessions", session_id)
        if session_doc is None or session_doc["status"] != "LIVE":
            return 0
        live = self.live.pop(session_id, None) or LiveSession(
            session_id, session_doc["scope"], session_doc["associated_id"]
        )
        self.scheduler.cancel(f"keepalive:{session_id}")
        self.scheduler.cancel(f"grace:{session_id}")
        left_at = self.clock.now()
        peers = list(live.peers.values())
        for peer in peers:  # everyone hears first; the bookkeeping follows
            peer.connection.send({"type": "roomLeft", "state": "ended"})
            peer.connection.close()
        with self.storage.batch():  # one commit for the whole end, however many were in
            left_iso = self.clock.iso(left_at)
            self.storage.put_many(
                "peers",
                [self._peer_doc(peer, left_at, left_iso, "ended") for peer in peers],
                scope=live.scope,
                parent=session_id,
            )
            session_doc.update(status="ENDED", ended_at=left_iso, live_participants=0)
            self._save_session(session_doc)
            self.recordings.stop_for_session(live.scope, session_id, "ALL_PEERS_LEFT")
            meeting = self.meeting_payload(session_id)
            for peer in peers:
                self.dispatcher.emit(
                    live.scope,
                    "meeting.participantLeft",
                    {"meeting": meeting, "participant": self._webhook_participant(peer, left_iso)},
                )
            self.dispatcher.emit(live.scope, "meeting.ended", {"meeting": meeting, "reason": reason})
        return len(peers)

    def end_meeting_session(self, scope: str, meeting_id: str) -> int:
        """REST kick-all: end the meeting's live session, or raise NoLiveSession."""
        session_doc = self.live_session_doc(scope, meeting_id)
        if session_doc is None:
            raise NoLiveSession(meeting_id)
        return self.end_session(session_doc["id"], HOST_ENDED)

    def kick_participants(
        self, scope: str, meeting_id: str, participant_ids: list[str], custom_ids: list[str]
    ) -> list[Peer]:
        session_doc = self.live_session_doc(scope, meeting_id)
        if session_doc is None:
            raise NoLiveSession(meeting_id)
        live = self.live.get(session_doc["id"])
        targets = [
            peer
            for peer in (live.peers.values() if live else [])
            if peer.participant["id"] in participant_ids or peer.participant["custom_participant_id"] in custom_ids
        ]
        if not targets:
            raise NoLiveSession(meeting_id)
        for peer in targets:
            self.kick(peer)
        return targets

    # -- client requests -------------------------------------------------------------------

    def client_kick(self, caller: Peer, target_peer_id: str, reply_to: str | None = None) -> None:
        if not caller.preset["permissions"].get("kick_participant"):
            raise Refused(1201, "permission denied: this participant's preset lacks kick_participant")
        if target_peer_id == caller.id:
            raise Refused(1203, "cannot kick yourself; use leave")
        target = self._peers_of(caller.session_id).get(target_peer_id)
        if target is None:
            raise Refused(1202, f"no participant {target_peer_id} in this session")
        caller.connection.send({"type": "ack", "reply_to": reply_to})
        self.kick(target)

    def client_kick_all(self, caller: Peer, reply_to: str | None = None) -> int:
        if not caller.preset["permissions"].get("kick_participant"):
            raise Refused(1201, "permission denied: this participant's preset lacks kick_participant")
        count = len(self._peers_of(caller.session_id))
        # The ack goes first: the caller's own roomLeft "ended" and close follow it.
        caller.connection.send({"type": "ack", "reply_to": reply_to, "kicked_participants_count": count})
        return self.end_session(caller.session_id, HOST_ENDED)

    # -- meeting and participant changes made through REST ---------------------------------

    def meeting_deactivated(self, scope: str, meeting_id: str) -> None:
        session_doc = self.live_session_doc(scope, meeting_id)
        if session_doc is not None:
            self.end_session(session_doc["id"], HOST_ENDED)

    def participant_revoked(self, participant_id: str) -> None:
        """A deleted participant (or a refreshed token) loses its place in the room."""
        for live in list(self.live.values()):
            for peer in list(live.peers.values()):
                if peer.participant["id"] == participant_id:
                    self.kick(peer)

    # -- restart ---------------------------------------------------------------------------

    def recover(self) -> None:
        """After a restart nobody is connected: close their peers, start keep-alive timers."""
        for session_doc in self.storage.list("sessions", where=lambda s: s["status"] == "LIVE"):
            now = self.clock.now()
            for peer_doc in self.storage.list("peers", parent=session_doc["id"], where=lambda p: p["left_at"] is None):
                peer_doc.update(left_at=self.clock.iso(now), updated_at=self.clock.iso(now))
                self.storage.put("peers", peer_doc, scope=session_doc["scope"], parent=session_doc["id"])
            session_doc["live_participants"] = 0
            self._save_session(session_doc)
            live = LiveSession(session_doc["id"], session_doc["scope"], session_doc["associated_id"])
            self.live[live.id] = live
            self._start_keep_alive(live)

    # -- persistence helpers ---------------------------------------------------------------

    def _peers_of(self, session_id: str) -> dict[str, Peer]:
        live = self.live.get(session_id)
        return live.peers if live else {}

    def _save_session(self, doc: Doc) -> None:
        doc["updated_at"] = self.clock.iso()
        doc["minutes_consumed"] = self._minutes(doc["id"])
        self.storage.put("sessions", doc, scope=doc["scope"], parent=doc["associated_id"])

    def _minutes(self, session_id: str) -> float:
        return round(self.storage.total("peers", "duration", parent=session_id), 3)

    def _save_peer(self, doc: Doc, peer: Peer) -> None:
        self.storage.put("peers", doc, scope=peer.scope, parent=peer.session_id)

    def _peer_doc(self, peer: Peer, left_at: float | None, left_iso: str | None, reason: str | None) -> Doc:
        return {
            "id": peer.id,
            "user_id": peer.participant["id"],
            "custom_participant_id": peer.participant["custom_participant_id"],
            "display_name": peer.participant.get("name"),
            "preset_name": peer.preset["name"],
            "joined_at": peer.joined_iso,
            "left_at": left_iso,
            "duration": round((left_at - peer.joined_at) / 60, 3) if left_at is not None else 0,
            "created_at": peer.joined_iso,  # a peer row is written first when it joins
            "updated_at": left_iso or peer.joined_iso,
            "left_reason": reason,
        }

    def _webhook_participant(self, peer: Peer, left_iso: str | None) -> dict[str, Any]:
        data = {
            "peerId": peer.id,
            "userDisplayName": peer.participant.get("name"),
            "customParticipantId": peer.participant["custom_participant_id"],
            "clientSpecificId": peer.participant["custom_participant_id"],
            "joinedAt": peer.joined_iso,
        }
        if left_iso is not None:
            data["leftAt"] = left_iso
        return data
