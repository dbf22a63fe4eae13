"""The REST routes: one small handler per operation of openapi/realtimekit.yaml.

Every handler goes through `operation(...)`, which authenticates, authorizes against the
account/app in the path, validates the query and body against the document, and turns
domain refusals into the error envelope. Handlers only translate between HTTP and the
state machine.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.reference.auth import AuthError, TokenRegistry
from conformance.reference.hub import token_key
from conformance.reference.preset_defaults import whole
from conformance.reference.recordings import RecordingConflict
from conformance.reference.sessions import NoLiveSession, SessionService
from conformance.reference.storage import Doc, Storage
from conformance.reference.validation import RequestInvalid, RequestValidator, strict_json
from conformance.reference.webhooks import WebhookDispatcher, WebhookSigner

PREFIX = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}"
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PER_PAGE = 20

PRESET_PARTS = ("permissions", "config", "ui")
# What a meeting is created with when the request leaves a field out (or, where
# Cloudflare's create body allows it, sends null). Fields without a default here are
# absent until set: Cloudflare's meeting schema has no nullable field.
MEETING_DEFAULTS: dict[str, Any] = {
    "record_on_start": False,
    "live_stream_on_start": False,
    "persist_chat": False,
    "summarize_on_end": False,
    "transcribe_on_end": False,
    "session_keep_alive_time_in_secs": 60,
}
MEETING_FIELDS = (
    "title",
    "record_on_start",
    "live_stream_on_start",
    "persist_chat",
    "summarize_on_end",
    "transcribe_on_end",
    "session_keep_alive_time_in_secs",
    "recording_config",
    "ai_config",
)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": {"code": status, "message": message}}, status, headers=headers)


def ok(data: Any, status: int = 200, paging: dict[str, int] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if paging is not None:
        body["paging"] = paging
    return JSONResponse(body, status)


@dataclass
class Call:
    """What a handler gets: the authorized scope, the validated inputs, the path ids."""

    request: Request
    scope: str
    body: dict[str, Any]
    query: dict[str, Any]

    def path(self, name: str) -> str:
        return self.request.path_params[name]


Handler = Callable[["RestApi", Call], Awaitable[Response]]


def operation(operation_id: str, *, write: bool, same_body_as: str | None = None) -> Callable[[Handler], Handler]:
    """`same_body_as`: the operation whose request schema Cloudflare reuses for this one, used
    while the suite's description lacks this operation (the PUTs reuse the create bodies)."""

    def mark(fn: Handler) -> Handler:
        fn.operation_id = operation_id  # type: ignore[attr-defined]
        fn.write = write  # type: ignore[attr-defined]
        fn.same_body_as = same_body_as  # type: ignore[attr-defined]
        return fn

    return mark


class RestApi:
    def __init__(
        self,
        storage: Storage,
        sessions: SessionService,
        dispatcher: WebhookDispatcher,
        signer: WebhookSigner,
        tokens: TokenRegistry,
        validator: RequestValidator,
    ) -> None:
        self.storage = storage
        self.sessions = sessions
        self.recordings = sessions.recordings
        self.dispatcher = dispatcher
        self.signer = signer
        self.tokens = tokens
        self.validator = validator
        self.clock = sessions.clock

    # -- plumbing --------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        table = [
            ("/meetings", "POST", self.create_meeting),
            ("/meetings", "GET", self.list_meetings),
            ("/meetings/{meeting_id}", "GET", self.get_meeting),
            ("/meetings/{meeting_id}", "PATCH", self.update_meeting),
            ("/meetings/{meeting_id}", "PUT", self.replace_meeting),
            ("/meetings/{meeting_id}/participants", "POST", self.add_participant),
            ("/meetings/{meeting_id}/participants", "GET", self.list_participants),
            ("/meetings/{meeting_id}/participants/{participant_id}", "GET", self.get_participant),
            ("/meetings/{meeting_id}/participants/{participant_id}", "PATCH", self.edit_participant),
            ("/meetings/{meeting_id}/participants/{participant_id}", "PUT", self.replace_participant),
            ("/meetings/{meeting_id}/participants/{participant_id}", "DELETE", self.delete_participant),
            ("/meetings/{meeting_id}/participants/{participant_id}/token", "POST", self.refresh_token),
            ("/meetings/{meeting_id}/active-session", "GET", self.get_active_session),
            ("/meetings/{meeting_id}/active-session/kick", "POST", self.kick),
            ("/meetings/{meeting_id}/active-session/kick-all", "POST", self.kick_all),
            ("/sessions", "GET", self.list_sessions),
            ("/sessions/{session_id}", "GET", self.get_session),
            ("/sessions/{session_id}/participants", "GET", self.list_session_participants),
            ("/recordings", "POST", self.start_recording),
            ("/recordings", "GET", self.list_recordings),
            ("/recordings/active-recording/{meeting_id}", "GET", self.get_active_recording),
            ("/recordings/{recording_id}", "GET", self.get_recording),
            ("/recordings/{recording_id}", "PUT", self.recording_action),
            ("/presets", "POST", self.create_preset),
            ("/presets", "GET", self.list_presets),
            ("/presets/{preset_id}", "GET", self.get_preset),
            ("/presets/{preset_id}", "PATCH", self.update_preset),
            ("/presets/{preset_id}", "PUT", self.replace_preset),
            ("/presets/{preset_id}", "DELETE", self.delete_preset),
            ("/webhooks", "POST", self.create_webhook),
            ("/webhooks", "GET", self.list_webhooks),
            ("/webhooks/{webhook_id}", "GET", self.get_webhook),
            ("/webhooks/{webhook_id}", "PATCH", self.update_webhook),
            ("/webhooks/{webhook_id}", "PUT", self.replace_webhook),
            ("/webhooks/{webhook_id}", "DELETE", self.delete_webhook),
        ]
        by_path: dict[str, dict[str, Handler]] = {}
        for path, method, handler in table:
            by_path.setdefault(path, {})[method] = handler
        routes = [
            Route(PREFIX + path, self._dispatcher(methods), methods=list(methods)) for path, methods in by_path.items()
        ]
        routes.append(Route("/.well-known/webhooks.json", self.public_key, methods=["GET"]))
        return routes

    def _dispatcher(self, methods: dict[str, Any]) -> Callable[[Request], Awaitable[Response]]:
        async def dispatch(request: Request) -> Response:
            handler = methods[request.method if request.method != "HEAD" else "GET"]
            try:
                return await self._call(handler, request)
            except ApiError as exc:
                return error_response(exc.status, exc.message)
            except AuthError as exc:
                return error_response(exc.status, exc.message)
            except RequestInvalid as exc:
                return error_response(400, str(exc))

        return dispatch

    async def _call(self, handler: Any, request: Request) -> Response:
        token = self.tokens.identify(request.headers.get("authorization"))
        params = request.path_params
        scope = self.tokens.authorize(token, params["account_id"], params["app_id"], write=handler.write)
        for name, value in params.items():
            if name.endswith("_id") and name not in ("account_id", "app_id") and not _is_uuid(value):
                raise ApiError(404, f"{name.removesuffix('_id')} {value} not found")
        op_id = handler.operation_id
        if op_id not in self.validator.operations:
            op_id = handler.same_body_as
        query = self.validator.query(op_id, dict(request.query_params))
        body: Any = {}
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes")
        present = bool(raw.strip())
        if present and self.validator.operation(op_id).body is not None:
            try:
                body = strict_json(raw)
            except ValueError as exc:
                raise ApiError(400, f"request body is not valid JSON: {exc}") from None
        self.validator.body(op_id, body, present=present)
        return await handler(Call(request, scope, body if isinstance(body, dict) else {}, query))

    async def public_key(self, request: Request) -> Response:
        return JSONResponse({"success": True, "data": {"publicKey": self.signer.public_pem}, "message": ""})

    # -- lookups ---------------------------------------------------------------------------

    def _get(self, table: str, id_: str, scope: str, what: str) -> Doc:
        doc = self.storage.get(table, id_, scope=scope)
        if doc is None:
            raise ApiError(404, f"{what} {id_} not found")
        return doc

    def _meeting(self, call: Call) -> Doc:
        return self._get("meetings", call.path("meeting_id"), call.scope, "meeting")

    def _participant(self, call: Call) -> Doc:
        meeting = self._meeting(call)
        doc = self._get("participants", call.path("participant_id"), call.scope, "participant")
        if doc["meeting_id"] != meeting["id"]:
            raise ApiError(404, f"participant {doc['id']} not found in meeting {meeting['id']}")
        return doc

    def _preset_by_name(self, scope: str, name: str) -> Doc:
        found = self.storage.list("presets", scope=scope, where=lambda p: p["name"] == name)
        if not found:
            # The body is valid (not a 400) and the meeting or participant exists (not a 404, which
            # a client would read as "the resource I address is gone"): the request clashes with
            # the app's presets as they are. Cloudflare's material is silent here.
            raise ApiError(409, f"no preset named {name!r} in this app")
        return found[0]

    # -- meetings --------------------------------------------------------------------------

    @operation("createMeeting", write=True)
    async def create_meeting(self, call: Call) -> Response:
        now = self.clock.iso()
        meeting = {"id": str(uuid.uuid4()), "status": "ACTIVE", "created_at": now, "updated_at": now}
        meeting.update(meeting_fields(call.body))
        meeting["scope"] = call.scope
        self.storage.put("meetings", meeting, scope=call.scope)
        return ok(meeting_view(meeting), 201)

    @operation("listMeetings", write=False)
    async def list_meetings(self, call: Call) -> Response:
        q = call.query
        search = (q.get("search") or "").lower()

        def keep(m: Doc) -> bool:
            return (
                (not search or search in m["id"] or search in (m.get("title") or "").lower())
                and (not q.get("status") or m["status"] == q["status"])
                and (not q.get("start_time") or _ts(m["created_at"]) >= _ts(q["start_time"]))
                and (not q.get("end_time") or _ts(m["created_at"]) <= _ts(q["end_time"]))
            )

        items = self.storage.list("meetings", scope=call.scope, where=keep)
        page, paging = paginate(items, q)
        return ok([meeting_view(m) for m in page], paging=paging)

    @operation("getMeeting", write=False)
    async def get_meeting(self, call: Call) -> Response:
        return ok(meeting_view(self._meeting(call)))

    @operation("updateMeeting", write=True)
    async def update_meeting(self, call: Call) -> Response:
        meeting = self._meeting(call)
        meeting.update({k: call.body[k] for k in (*MEETING_FIELDS, "status") if k in call.body})
        return self._save_meeting(call, meeting)

    @operation("replaceMeeting", write=True, same_body_as="createMeeting")
    async def replace_meeting(self, call: Call) -> Response:
        # Cloudflare's replace_meeting takes the create body: what it leaves out is reset to
        # the create defaults; the id, status and created_at stay.
        meeting = self._meeting(call)
        kept = {k: meeting[k] for k in ("id", "status", "created_at", "scope")}
        return self._save_meeting(call, {**kept, **meeting_fields(call.body)})

    def _save_meeting(self, call: Call, meeting: Doc) -> Response:
        meeting["updated_at"] = self.clock.iso()
        self.storage.put("meetings", meeting, scope=call.scope)
        if meeting["status"] == "INACTIVE":
            self.sessions.meeting_deactivated(call.scope, meeting["id"])
        return ok(meeting_view(meeting))

    # -- participants ----------------------------------------------------------------------

    @operation("addParticipant", write=True)
    async def add_participant(self, call: Call) -> Response:
        meeting = self._meeting(call)
        preset = self._preset_by_name(call.scope, call.body["preset_name"])
        custom_id = call.body["custom_participant_id"]
        self._custom_id_free(call.scope, meeting["id"], custom_id)
        now = self.clock.iso()
        participant = {
            "id": str(uuid.uuid4()),
            "meeting_id": meeting["id"],
            "custom_participant_id": custom_id,
            "preset_id": preset["id"],
            "preset_name": preset["name"],
            "name": call.body.get("name"),
            "picture": call.body.get("picture"),
            "created_at": now,
            "updated_at": now,
            "scope": call.scope,
        }
        token = self._issue_token(participant)
        return ok({**self._participant_view(participant), "token": token}, 201)

    def _custom_id_free(self, scope: str, meeting_id: str, custom_id: str, except_id: str | None = None) -> None:
        taken = self.storage.list(
            "participants",
            scope=scope,
            parent=meeting_id,
            where=lambda p: p["custom_participant_id"] == custom_id and p["id"] != except_id,
        )
        if taken:
            raise ApiError(409, f"custom_participant_id {custom_id!r} is already in this meeting")

    def _issue_token(self, participant: Doc, *, revoke: bool = True) -> str:
        """A new token for the participant; `revoke` ends every token it had before (a
        refresh), else the earlier ones stay valid (an edit, which also answers a token)."""
        if revoke:
            self._revoke_tokens(participant["id"])
        token = "rtkp_" + secrets.token_urlsafe(32)
        participant["token_key"] = token_key(token)
        self.storage.put("participants", participant, scope=participant["scope"], parent=participant["meeting_id"])
        self.storage.put(
            "tokens",
            {"id": participant["token_key"], "participant_id": participant["id"]},
            scope=participant["scope"],
            parent=participant["id"],
        )
        return token

    def _revoke_tokens(self, participant_id: str) -> None:
        for old in self.storage.list("tokens", parent=participant_id):
            self.storage.delete("tokens", old["id"])

    def _participant_view(self, participant: Doc) -> Doc:
        preset = self.storage.get("presets", participant["preset_id"])
        view = {
            k: participant[k] for k in ("id", "custom_participant_id", "name", "picture", "created_at", "updated_at")
        }
        view["preset_name"] = preset["name"] if preset else participant["preset_name"]
        return view

    @operation("listParticipants", write=False)
    async def list_participants(self, call: Call) -> Response:
        meeting = self._meeting(call)
        items = self.storage.list("participants", scope=call.scope, parent=meeting["id"])
        page, paging = paginate(items, call.query)
        return ok([self._participant_view(p) for p in page], paging=paging)

    @operation("getParticipant", write=False)
    async def get_participant(self, call: Call) -> Response:
        return ok(self._participant_view(self._participant(call)))

    @operation("editParticipant", write=True)
    async def edit_participant(self, call: Call) -> Response:
        participant = self._participant(call)
        if call.body.get("preset_name") is not None:  # Cloudflare: nullable, null changes nothing
            self._set_preset(participant, call.body["preset_name"])
        participant.update({k: call.body[k] for k in ("name", "picture") if k in call.body})
        return self._save_participant(participant)

    @operation("replaceParticipant", write=True, same_body_as="addParticipant")
    async def replace_participant(self, call: Call) -> Response:
        participant = self._participant(call)
        custom_id = call.body["custom_participant_id"]
        self._custom_id_free(call.scope, participant["meeting_id"], custom_id, participant["id"])
        self._set_preset(participant, call.body["preset_name"])
        participant.update(
            custom_participant_id=custom_id, name=call.body.get("name"), picture=call.body.get("picture")
        )
        return self._save_participant(participant)

    def _set_preset(self, participant: Doc, preset_name: str) -> None:
        preset = self._preset_by_name(participant["scope"], preset_name)
        participant.update(preset_id=preset["id"], preset_name=preset["name"])

    def _save_participant(self, participant: Doc) -> Response:
        # Cloudflare answers an edit or a replace with the participant and a token
        # (`realtimekit_AddParticipant`); tokens issued before stay valid.
        participant["updated_at"] = self.clock.iso()
        token = self._issue_token(participant, revoke=False)
        return ok({**self._participant_view(participant), "token": token})

    @operation("deleteParticipant", write=True)
    async def delete_participant(self, call: Call) -> Response:
        participant = self._participant(call)
        self._revoke_tokens(participant["id"])
        self.storage.delete("participants", participant["id"])
        self.sessions.participant_revoked(participant["id"])
        return ok({k: participant[k] for k in ("created_at", "updated_at", "custom_participant_id", "preset_id")})

    @operation("refreshParticipantToken", write=True)
    async def refresh_token(self, call: Call) -> Response:
        participant = self._participant(call)
        return ok({"token": self._issue_token(participant)})

    # -- active session --------------------------------------------------------------------

    @operation("getActiveSession", write=False)
    async def get_active_session(self, call: Call) -> Response:
        meeting = self._meeting(call)
        session = self.sessions.live_session_doc(call.scope, meeting["id"])
        if session is None:
            raise ApiError(404, f"meeting {meeting['id']} has no live session")
        return ok(public(session))

    @operation("kickParticipants", write=True)
    async def kick(self, call: Call) -> Response:
        meeting = self._meeting(call)
        ids = call.body.get("participant_ids") or []
        custom = call.body.get("custom_participant_ids") or []
        if not ids and not custom:
            raise ApiError(400, "give participant_ids or custom_participant_ids")
        try:
            peers = self.sessions.kick_participants(call.scope, meeting["id"], ids, custom)
        except NoLiveSession:
            raise ApiError(404, "none of those participants is in a live session of this meeting") from None
        kicked = [
            {
                **{k: p.participant[k] for k in ("id", "created_at", "updated_at")},
                "name": p.participant.get("name"),
                "picture": p.participant.get("picture"),
                "email": None,
            }
            for p in peers
        ]
        return ok({"action": "kick", "participants": without_nulls(kicked)})

    @operation("kickAllParticipants", write=True)
    async def kick_all(self, call: Call) -> Response:
        meeting = self._meeting(call)
        try:
            count = self.sessions.end_meeting_session(call.scope, meeting["id"])
        except NoLiveSession:
            raise ApiError(404, f"meeting {meeting['id']} has no live session to end") from None
        return ok({"action": "kick_all", "kicked_participants_count": count})

    # -- sessions --------------------------------------------------------------------------

    @operation("listSessions", write=False)
    async def list_sessions(self, call: Call) -> Response:
        q = call.query
        items = self.storage.list(
            "sessions",
            scope=call.scope,
            parent=q.get("associated_id"),
            where=lambda s: not q.get("status") or s["status"] == q["status"],
        )
        if q.get("sort_order", "DESC") == "DESC":
            items.reverse()
        page, paging = paginate(items, q)
        return ok({"sessions": [public(s) for s in page]}, paging=paging)

    @operation("getSession", write=False)
    async def get_session(self, call: Call) -> Response:
        return ok(public(self._get("sessions", call.path("session_id"), call.scope, "session")))

    @operation("listSessionParticipants", write=False)
    async def list_session_participants(self, call: Call) -> Response:
        session = self._get("sessions", call.path("session_id"), call.scope, "session")
        items = self.storage.list("peers", parent=session["id"])
        page, paging = paginate(items, call.query)
        return ok({"participants": [public(p) for p in page]}, paging=paging)

    # -- recordings ------------------------------------------------------------------------

    @operation("startRecording", write=True)
    async def start_recording(self, call: Call) -> Response:
        meeting_id = call.body["meeting_id"]
        self._get("meetings", meeting_id, call.scope, "meeting")
        session = self.sessions.live_session_doc(call.scope, meeting_id)
        if session is None:
            raise ApiError(409, f"meeting {meeting_id} has no live session to record")
        try:
            recording = self.recordings.start(
                call.scope,
                meeting_id,
                session["id"],
                reason="API_CALL",
                allow_multiple=bool(call.body.get("allow_multiple_recordings")),
                file_name_prefix=call.body.get("file_name_prefix"),
            )
        except RecordingConflict as exc:
            raise ApiError(409, str(exc)) from None
        return ok(recording_view(recording))  # 200: Cloudflare's start_recording documents only 200

    @operation("listRecordings", write=False)
    async def list_recordings(self, call: Call) -> Response:
        q = call.query
        items = self.storage.list(
            "recordings",
            scope=call.scope,
            parent=q.get("meeting_id"),
            where=lambda r: not q.get("status") or r["status"] in _as_list(q["status"]),
        )
        page, paging = paginate(items, q)
        return ok([recording_view(r) for r in page], paging=paging)

    @operation("getRecording", write=False)
    async def get_recording(self, call: Call) -> Response:
        return ok(recording_view(self._get("recordings", call.path("recording_id"), call.scope, "recording")))

    @operation("recordingAction", write=True)
    async def recording_action(self, call: Call) -> Response:
        recording = self._get("recordings", call.path("recording_id"), call.scope, "recording")
        try:
            return ok(recording_view(self.recordings.act(call.scope, recording, call.body["action"])))
        except RecordingConflict as exc:
            raise ApiError(409, str(exc)) from None

    @operation("getActiveRecording", write=False)
    async def get_active_recording(self, call: Call) -> Response:
        meeting_id = call.path("meeting_id")
        self._get("meetings", meeting_id, call.scope, "meeting")
        running = self.recordings.running(call.scope, meeting_id)
        if not running:
            raise ApiError(404, f"meeting {meeting_id} has no active recording")
        return ok(recording_view(running[-1]))

    # -- presets ---------------------------------------------------------------------------

    def _preset_name_free(self, scope: str, name: str, except_id: str | None = None) -> None:
        if self.storage.list("presets", scope=scope, where=lambda p: p["name"] == name and p["id"] != except_id):
            raise ApiError(409, f"a preset named {name!r} already exists")

    @operation("createPreset", write=True)
    async def create_preset(self, call: Call) -> Response:
        self._preset_name_free(call.scope, call.body["name"])
        preset = new_preset(call.body["name"], call.body["permissions"], self.clock.iso(), call.scope)
        preset.update({part: whole(part, call.body.get(part)) for part in ("config", "ui")})
        self.storage.put("presets", preset, scope=call.scope)
        return ok(public(preset), 201)

    @operation("listPresets", write=False)
    async def list_presets(self, call: Call) -> Response:
        page, paging = paginate(self.storage.list("presets", scope=call.scope), call.query)
        return ok([public(p) for p in page], paging=paging)

    @operation("getPreset", write=False)
    async def get_preset(self, call: Call) -> Response:
        return ok(public(self._get("presets", call.path("preset_id"), call.scope, "preset")))

    @operation("updatePreset", write=True)
    async def update_preset(self, call: Call) -> Response:
        preset = self._get("presets", call.path("preset_id"), call.scope, "preset")
        if "name" in call.body:
            self._preset_name_free(call.scope, call.body["name"], preset["id"])
            preset["name"] = call.body["name"]
        # a part given replaces the stored one as a whole, with create's defaults (the document)
        preset.update({part: whole(part, call.body[part]) for part in PRESET_PARTS if part in call.body})
        return self._save_preset(call, preset)

    @operation("replacePreset", write=True, same_body_as="createPreset")
    async def replace_preset(self, call: Call) -> Response:
        # Cloudflare's put-presets-preset_id takes the create body and answers the preset.
        preset = self._get("presets", call.path("preset_id"), call.scope, "preset")
        self._preset_name_free(call.scope, call.body["name"], preset["id"])
        preset["name"] = call.body["name"]
        preset.update({part: whole(part, call.body.get(part)) for part in PRESET_PARTS})
        return self._save_preset(call, preset)

    def _save_preset(self, call: Call, preset: Doc) -> Response:
        preset["updated_at"] = self.clock.iso()
        self.storage.put("presets", preset, scope=call.scope)
        return ok(public(preset))

    @operation("deletePreset", write=True)
    async def delete_preset(self, call: Call) -> Response:
        preset = self._get("presets", call.path("preset_id"), call.scope, "preset")
        self.storage.delete("presets", preset["id"])
        return ok(public(preset))

    # -- webhooks --------------------------------------------------------------------------

    @operation("createWebhook", write=True)
    async def create_webhook(self, call: Call) -> Response:
        now = self.clock.iso()
        webhook = {
            "id": str(uuid.uuid4()),
            "name": call.body["name"],
            "url": call.body["url"],
            "events": list(call.body["events"]),
            "enabled": call.body.get("enabled", True),
            "created_at": now,
            "updated_at": now,
            "scope": call.scope,
        }
        self.storage.put("webhooks", webhook, scope=call.scope)
        return ok(public(webhook), 201)

    @operation("listWebhooks", write=False)
    async def list_webhooks(self, call: Call) -> Response:
        return ok([public(w) for w in self.storage.list("webhooks", scope=call.scope)])

    @operation("getWebhook", write=False)
    async def get_webhook(self, call: Call) -> Response:
        return ok(public(self._get("webhooks", call.path("webhook_id"), call.scope, "webhook")))

    def _change_webhook(self, call: Call, fields: dict[str, Any]) -> Response:
        webhook = self._get("webhooks", call.path("webhook_id"), call.scope, "webhook")
        webhook.update(fields)
        webhook["updated_at"] = self.clock.iso()
        self.storage.put("webhooks", webhook, scope=call.scope)
        if not webhook["enabled"]:
            self.dispatcher.drop_pending(webhook["id"])
        return ok(public(webhook))

    @operation("updateWebhook", write=True)
    async def update_webhook(self, call: Call) -> Response:
        return self._change_webhook(
            call, {k: call.body[k] for k in ("name", "url", "events", "enabled") if k in call.body}
        )

    @operation("replaceWebhook", write=True)
    async def replace_webhook(self, call: Call) -> Response:
        fields = {k: call.body[k] for k in ("name", "url", "events")}
        fields["enabled"] = call.body.get("enabled", True)
        return self._change_webhook(call, fields)

    @operation("deleteWebhook", write=True)
    async def delete_webhook(self, call: Call) -> Response:
        webhook = self._get("webhooks", call.path("webhook_id"), call.scope, "webhook")
        self.storage.delete("webhooks", webhook["id"])
        self.dispatcher.drop_pending(webhook["id"])
        return ok(public(webhook))


# -- helpers -------------------------------------------------------------------------------

INTERNAL_FIELDS = frozenset({"scope", "token_key", "left_reason", "meeting_id_internal"})


def public(doc: Doc) -> Doc:
    """A stored document as answered: internal fields out, and no nulls. Cloudflare's
    schemas for meetings, sessions, presets and webhooks have no nullable field, so a
    value not set is left out rather than sent as null."""
    return {k: without_nulls(v) for k, v in doc.items() if k not in INTERNAL_FIELDS and v is not None}


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


# Fields of a recording's storage config that Cloudflare marks write-only (or "not
# readable by clients"): accepted, stored, never answered.
WRITE_ONLY_STORAGE_FIELDS = ("access_key", "secret")


# Cloudflare's recording schema requires these even while they are null.
RECORDING_NULLABLE = frozenset(
    {
        "download_url",
        "download_url_expiry",
        "audio_download_url",
        "file_size",
        "session_id",
        "started_time",
        "stopped_time",
    }
)


def recording_view(recording: Doc) -> Doc:
    """A recording as answered: its required-but-nullable fields kept as null, any other
    unset field (`stop_reason`, `recording_duration` while running) left out."""
    return {k: without_nulls(v) for k, v in recording.items() if v is not None or k in RECORDING_NULLABLE}


def meeting_view(meeting: Doc) -> Doc:
    view = public(meeting)
    storage_config = (view.get("recording_config") or {}).get("storage_config")
    if isinstance(storage_config, dict):
        view["recording_config"] = {
            **view["recording_config"],
            "storage_config": {k: v for k, v in storage_config.items() if k not in WRITE_ONLY_STORAGE_FIELDS},
        }
    return view


def meeting_fields(body: dict[str, Any]) -> Doc:
    """A meeting's settable fields from a create (or replace) body; null means the default."""
    fields = dict(MEETING_DEFAULTS)
    fields.update({k: body[k] for k in MEETING_FIELDS if body.get(k) is not None})
    return fields


def new_preset(name: str, permissions: dict[str, Any], now: str, scope: str) -> Doc:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "permissions": whole("permissions", permissions),
        "config": whole("config", None),
        "ui": whole("ui", None),
        "created_at": now,
        "updated_at": now,
        "scope": scope,
    }


def paginate(items: list[Doc], query: dict[str, Any]) -> tuple[list[Doc], dict[str, int]]:
    # Cloudflare types both as numbers with minimum 0 and says nothing more: a fraction is
    # cut to a whole number, page 0 reads as the first page and 0 per page as the default.
    page_no = max(1, int(query.get("page_no", 1)))
    per_page = int(query.get("per_page", DEFAULT_PER_PAGE)) or DEFAULT_PER_PAGE
    start = (page_no - 1) * per_page
    page = items[start : start + per_page]
    return page, {"start_offset": start, "end_offset": start + len(page), "total_count": len(items)}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_uuid(value: str) -> bool:
    try:
        return str(UUID(value)) == value.lower()
    except ValueError:
        return False


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
