"""Recording lifecycle: RECORDING ⇄ PAUSED → UPLOADING → UPLOADED.

Nothing is really recorded; the states, times and webhooks are what the suite checks. A
stop (by the API, or because the session ended) sets `stopped_time` and `stop_reason` and
moves to UPLOADING; the upload "finishes" one server-clock second later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from conformance.reference.clock import Clock, Scheduler
from conformance.reference.storage import Doc, Storage
from conformance.reference.webhooks import WebhookDispatcher

UPLOAD_SECONDS = 1.0
RUNNING = ("INVOKED", "RECORDING", "PAUSED")


class RecordingConflict(Exception):
    pass


class RecordingService:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        scheduler: Scheduler,
        dispatcher: WebhookDispatcher,
        meeting_payload: Callable[[str], dict[str, Any]],
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.scheduler = scheduler
        self.dispatcher = dispatcher
        self.meeting_payload = meeting_payload  # session id -> webhook `meeting` object

    def running(self, scope: str, meeting_id: str) -> list[Doc]:
        return self.storage.list("recordings", scope=scope, parent=meeting_id, where=lambda r: r["status"] in RUNNING)

    def start(
        self,
        scope: str,
        meeting_id: str,
        session_id: str,
        *,
        reason: str,
        allow_multiple: bool,
        file_name_prefix: str | None = None,
    ) -> Doc:
        if self.running(scope, meeting_id) and not allow_multiple:
            raise RecordingConflict("a recording is already running for this meeting")
        now = self.clock.iso()
        rec_id = str(uuid.uuid4())
        prefix = file_name_prefix or "recording"
        recording = {
            "id": rec_id,
            "meeting_id": meeting_id,
            "session_id": session_id,
            "invoked_time": now,
            "started_time": now,
            "stopped_time": None,
            "output_file_name": f"{prefix}-{rec_id}.mp4",
            "status": "RECORDING",
            "recording_duration": None,
            "file_size": None,
            "download_url": None,
            "download_url_expiry": None,
            "audio_download_url": None,  # nothing is recorded: there is never an audio file
            "start_reason": {"reason": reason, "caller": {"type": "ORGANIZATION"}},
            "stop_reason": None,
        }
        self._save(scope, recording)
        return recording

    def act(self, scope: str, recording: Doc, action: str) -> Doc:
        status = recording["status"]
        if action == "pause" and status == "RECORDING":
            recording["status"] = "PAUSED"
        elif action == "resume" and status == "PAUSED":
            recording["status"] = "RECORDING"
        elif action == "stop" and status in RUNNING:
            return self.stop(scope, recording, "API_CALL")
        else:
            raise RecordingConflict(f"cannot {action} a recording that is {status}")
        self._save(scope, recording)
        return recording

    def stop(self, scope: str, recording: Doc, reason: str) -> Doc:
        recording["status"] = "UPLOADING"
        recording["stopped_time"] = self.clock.iso()
        # whole seconds: Cloudflare's `recording_duration` is an integer
        recording["recording_duration"] = round(self.clock.now() - _epoch(recording["started_time"]))
        recording["stop_reason"] = {"reason": reason, "caller": {"type": "ORGANIZATION"}}
        self._save(scope, recording)

        async def uploaded() -> None:
            current = self.storage.get("recordings", recording["id"])
            if current and current["status"] == "UPLOADING":
                current["status"] = "UPLOADED"
                current["file_size"] = 1024
                current["download_url"] = f"https://recordings.invalid/{current['output_file_name']}"
                self._save(scope, current)

        self.scheduler.call_later(f"upload:{recording['id']}", UPLOAD_SECONDS, uploaded)
        return recording

    def stop_for_session(self, scope: str, session_id: str, reason: str) -> None:
        for recording in self.storage.list("recordings", scope=scope, where=lambda r: r["session_id"] == session_id):
            if recording["status"] in RUNNING:
                self.stop(scope, recording, reason)

    def _save(self, scope: str, recording: Doc) -> None:
        self.storage.put("recordings", recording, scope=scope, parent=recording["meeting_id"])
        self.dispatcher.emit(
            scope,
            "recording.statusUpdate",
            {
                "recording": {
                    "id": recording["id"],
                    "recordingId": recording["id"],
                    "status": recording["status"],
                    "meetingId": recording["meeting_id"],
                    "startedTime": recording["started_time"],
                    "stoppedTime": recording["stopped_time"],
                    "outputFileName": recording["output_file_name"],
                    "downloadUrl": recording["download_url"],
                    "recordingDuration": recording["recording_duration"],
                    "organizationId": scope.split("/")[1],
                },
                "meeting": self.meeting_payload(recording["session_id"]),
            },
        )


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
