"""A complete preset from whatever part of one a request gives.

Cloudflare's `realtimekit_Preset` requires `config`, `permissions` and `ui`, each with
required parts (`permissions.recorder_type`, `ui.design_tokens.colors`, ...). The reference
stores the defaults below with the request's values laid over them, so every preset it
answers with is a whole one, whatever the request left out. Values marked `default` in
Cloudflare's description are used as given there; the rest are the reference's choice
(privileged flags off, media allowed).
"""

from __future__ import annotations

import copy
from typing import Any

from conformance.preset_body import UI_DEFAULTS

PRIVILEGED_FLAGS = (
    "accept_waiting_requests",
    "can_accept_production_requests",
    "can_change_participant_permissions",
    "can_edit_display_name",
    "can_livestream",
    "can_record",
    "can_spotlight",
    "disable_participant_audio",
    "disable_participant_screensharing",
    "disable_participant_video",
    "hidden_participant",
    "kick_participant",
    "pin_participant",
    "show_participant_list",
)

_ALLOWED = {"can_produce": "ALLOWED"}

DEFAULT_PERMISSIONS: dict[str, Any] = {
    **dict.fromkeys(PRIVILEGED_FLAGS, False),
    "waiting_room_type": "SKIP",
    "recorder_type": "NONE",
    "is_recorder": False,
    "plugins": {"can_close": False, "can_start": False, "can_edit_config": False, "config": {}},
    "connected_meetings": {
        "can_alter_connected_meetings": False,
        "can_switch_connected_meetings": False,
        "can_switch_to_parent_meeting": False,
    },
    "polls": {"can_create": False, "can_vote": True, "can_view": True},
    "media": {"video": dict(_ALLOWED), "audio": dict(_ALLOWED), "screenshare": dict(_ALLOWED)},
    "chat": {
        "public": {"can_send": True, "text": True, "files": True},
        "private": {"can_send": True, "can_receive": True, "text": True, "files": True},
    },
}

DEFAULT_CONFIG: dict[str, Any] = {
    "view_type": "GROUP_CALL",
    "max_video_streams": {"mobile": 6, "desktop": 25},
    "max_screenshare_count": 1,
    "livestream_viewer_qualities": [],
    "media": {
        "video": {"quality": "hd", "frame_rate": 30, "simulcast": False},
        "screenshare": {"quality": "hd", "frame_rate": 5},
        "audio": {"enable_high_bitrate": False, "enable_stereo": False},
    },
}

# Cloudflare's design_tokens defaults: one table, shared with the suite's own preset bodies.
DEFAULT_UI: dict[str, Any] = UI_DEFAULTS

DEFAULTS = {"permissions": DEFAULT_PERMISSIONS, "config": DEFAULT_CONFIG, "ui": DEFAULT_UI}


def overlay(base: Any, given: Any) -> Any:
    """`given` laid over `base`: objects merge key by key, anything else replaces.

    A null in `given` keeps the default: Cloudflare's preset parts are not nullable
    (except `livestream_viewer_qualities`, whose default `[]` reads the same).
    """
    if given is None:
        return copy.deepcopy(base)
    if isinstance(base, dict) and isinstance(given, dict):
        merged = copy.deepcopy(base)
        for key, value in given.items():
            merged[key] = overlay(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(given)


def whole(part: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """One preset part (`permissions`, `config` or `ui`), complete."""
    return overlay(DEFAULTS[part], given or {})
