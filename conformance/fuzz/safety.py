"""What keeps a fuzz run safe on a shared staging target, and what counts against the
implementation. Plain functions over schemathesis cases; hooks.py registers them in the `st`
child process.

- everything the fuzzer creates is named with the run id (meeting title, preset and webhook
  name), and webhooks point at a host that never resolves;
- a request that changes something (any method but GET/HEAD/OPTIONS, and the meeting a
  recording is started for) only ever names resources this fuzz run created itself: a
  resource id the fuzzer found elsewhere, say in a list answer, is swapped for one of the
  run's own, or for a fresh id that names nothing; an undocumented changing method on a
  collection path, which names no resource to confine it to, is not sent at all;
- every resource created goes to a ledger file at once, so the parent can clean up even
  after a crash;
- a throttled answer is not held against the implementation, nor is the documented "no live
  session" 404 right after a meeting was created;
- an error answer must carry `{success: false, error: {code: <the HTTP status>, message}}`,
  which the document's schemas alone cannot say (the code must equal the status); the judge
  is conformance.error_envelope, the same as the scenarios'.
"""

from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path
from typing import Any

from schemathesis.core.parameters import ParameterLocation

from conformance import request_budget

# Re-exported: hooks.py's `error_envelope` check uses the suite's one judge of the envelope.

# The operations that create something, and what they create.
CREATES = {
    "createMeeting": "meeting",
    "addParticipant": "participant",
    "createPreset": "preset",
    "createWebhook": "webhook",
    "startRecording": "recording",
}
# Where a resource's human name lives, and how long it may be (the document's maxLength).
NAME_FIELDS = {
    "createMeeting": ("title", 255),
    "updateMeeting": ("title", 255),
    "createPreset": ("name", 255),
    "updatePreset": ("name", 255),
    "createWebhook": ("name", 255),
    "updateWebhook": ("name", 255),
    "replaceWebhook": ("name", 255),
}
WEBHOOK_BODIES = {"createWebhook", "updateWebhook", "replaceWebhook"}
PATH_IDS = {
    "meeting_id": "meeting",
    "participant_id": "participant",
    "preset_id": "preset",
    "webhook_id": "webhook",
    "recording_id": "recording",
}
READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}
SAFE_PROBES = {"TRACE", "QUERY"}  # safe methods (RFC 9110, the QUERY draft) the coverage phase tries
MAX_RETRY_AFTER_SECONDS = 60.0
# A name under .invalid never resolves (RFC 6761): a webhook made by the fuzzer delivers nowhere.
NOWHERE_HOST = "rtkc-fuzz.invalid"


def name_prefix(run_id: str) -> str:
    """What every name the fuzz phase gives starts with; cleanup sweeps for it."""
    return f"{run_id}.fuzz"


class OwnResources:
    """What this fuzz run created, in creation order (ids per kind; participants per meeting)."""

    def __init__(self, ledger: Path | None) -> None:
        self.ids: dict[str, list[str]] = {kind: [] for kind in PATH_IDS.values()}
        self.meeting_of: dict[str, str] = {}
        self.ledger = ledger
        # Replacement choices follow a counter, not the replaced value: a value harvested
        # from an answer differs between runs, and a seeded run must repeat itself.
        self._turn = itertools.count()

    def add(self, kind: str, resource_id: str, meeting_id: str | None = None) -> None:
        if resource_id in self.ids[kind]:
            return
        self.ids[kind].append(resource_id)
        if meeting_id:
            self.meeting_of[resource_id] = meeting_id
        if self.ledger is not None:
            entry = {"kind": kind, "id": resource_id, "meeting_id": meeting_id}
            with self.ledger.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    def owns(self, kind: str, resource_id: str) -> bool:
        return resource_id in self.ids[kind]

    def pick(self, kind: str, meeting_id: str | None = None) -> str:
        """One of the run's own resources of this kind, or an id that names nothing."""
        turn = next(self._turn)
        candidates = self.ids[kind]
        if kind == "participant" and meeting_id is not None:
            candidates = [p for p in candidates if self.meeting_of.get(p) == meeting_id]
        if candidates:
            return candidates[turn % len(candidates)]
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rtkc-fuzz/{kind}/{turn}"))


def operation_id(case: Any) -> str:
    return str(case.operation.definition.raw.get("operationId", ""))


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _body_is_positive(case: Any) -> bool:
    meta = case.meta
    return meta is None or not meta.is_negative_at(ParameterLocation.BODY)


# -- before each request -----------------------------------------------------------------------


def can_be_confined(case: Any) -> bool:
    """Whether the request can be kept to the run's own resources (else it is not sent).

    The coverage phase also tries methods the document does not list, on every path. Where
    the path names a resource, the id is confined like any other (below); a collection path
    names none, and an undocumented DELETE or PUT there could act on everything in the app.
    """
    method = case.method.upper()
    undocumented = method != case.operation.method.upper()
    names_a_resource = any("{" + name + "}" in case.operation.path for name in PATH_IDS)
    return not (undocumented and method not in READ_ONLY_METHODS | SAFE_PROBES and not names_a_resource)


def restrict_to_own_resources(case: Any, own: OwnResources) -> None:
    """A changing request names only this run's resources (ids that are not uuids name nothing)."""
    if case.method.upper() in READ_ONLY_METHODS:
        return
    params = case.path_parameters or {}
    meeting_id = params.get("meeting_id")
    if _is_uuid(meeting_id) and not own.owns("meeting", meeting_id):
        meeting_id = params["meeting_id"] = own.pick("meeting")
    for name, kind in PATH_IDS.items():
        if name == "meeting_id" or not _is_uuid(params.get(name)) or own.owns(kind, params[name]):
            continue
        params[name] = own.pick(kind, meeting_id if kind == "participant" else None)
    body = case.body
    if operation_id(case) == "startRecording" and isinstance(body, dict):
        target = body.get("meeting_id")
        if _is_uuid(target) and not own.owns("meeting", target):
            body["meeting_id"] = own.pick("meeting")


def name_with_run_id(case: Any, run_id: str) -> None:
    """A resource the fuzzer creates or renames carries the run id in its name."""
    field = NAME_FIELDS.get(operation_id(case))
    body = case.body
    if field is None or not isinstance(body, dict) or not _body_is_positive(case):
        return
    key, max_length = field
    prefix = name_prefix(run_id)
    value = body.get(key)
    creating = operation_id(case) in CREATES
    if isinstance(value, str):
        # The same case can be sent again (shrinking, replays): name it once.
        if not value.startswith(prefix):
            body[key] = f"{prefix} {value}"[:max_length]
    elif key in body or creating:  # null, or left out on create: name it all the same
        body[key] = prefix


def webhooks_deliver_nowhere(case: Any, run_id: str) -> None:
    body = case.body
    if (
        operation_id(case) in WEBHOOK_BODIES
        and isinstance(body, dict)
        and _body_is_positive(case)
        and isinstance(body.get("url"), str)
    ):
        body["url"] = f"https://{NOWHERE_HOST}/{run_id}"


# -- after each request ------------------------------------------------------------------------


def record_creation(case: Any, status: int, body: Any, own: OwnResources) -> None:
    kind = CREATES.get(operation_id(case))
    if kind is None or not 200 <= status < 300 or not isinstance(body, dict):
        return
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        meeting_id = (case.path_parameters or {}).get("meeting_id") if kind == "participant" else None
        own.add(kind, data["id"], meeting_id)


def retry_after_seconds(value: str | None) -> float:
    """How long the `st` child pauses after a 429 (request_budget.retry_after_seconds, this phase's cap)."""
    return request_budget.retry_after_seconds(value, MAX_RETRY_AFTER_SECONDS)


# Operations whose 404 the document gives a second meaning: the meeting exists but has no live
# session (or no running recording). Right after a meeting is created that is the correct
# answer, which schemathesis' "created resource not found" heuristic cannot know.
STATE_404_PATHS = ("/active-session", "/active-recording/")


def held_against_target(failure: Any, case: Any, response: Any) -> bool:
    """Whether a failed check counts against the implementation."""
    # A 429 says "slow down", not how the operation behaves; the run paced itself to the
    # configured limit, so a throttled answer is not held against the implementation.
    if getattr(response, "status_code", None) == 429:
        return False
    if type(failure).__name__ == "EnsureResourceAvailability":
        return not any(marker in case.operation.path for marker in STATE_404_PATHS)
    return True
