"""The body the suite sends to create its presets: a whole `realtimekit_Preset`.

Cloudflare's create_preset takes a complete preset (`name`, `config`, `permissions`, `ui`, each
with required parts), so an implementation that follows it may refuse anything less. The suite
asks for nothing it does not test: every privilege is off except what a role needs
(`kick_participant` for the host), participants join straight in (`waiting_room_type: SKIP`;
a waiting room would hold the suite's joins), and the UI takes the defaults Cloudflare's
description lists. tests/test_preset_body.py validates these bodies against Cloudflare's schema.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# What each of the suite's roles adds to the least-privileged body. The host may remove others
# (kick, kick-all: KICK-*, END-*); the participant must not (PERM-01 expects its 1201).
ROLE_PERMISSIONS: dict[str, dict[str, Any]] = {
    "host": {"kick_participant": True},
    "participant": {"kick_participant": False},
}

# Required booleans of `permissions` that grant something; all off unless a role needs one.
PRIVILEGES = (
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
    "kick_participant",
    "pin_participant",
)

_PERMISSIONS: dict[str, Any] = {
    **dict.fromkeys(PRIVILEGES, False),
    "hidden_participant": False,
    "show_participant_list": True,
    "waiting_room_type": "SKIP",
    "recorder_type": "NONE",
    "is_recorder": False,
    "media": {
        "audio": {"can_produce": "ALLOWED"},
        "video": {"can_produce": "ALLOWED"},
        "screenshare": {"can_produce": "NOT_ALLOWED"},
    },
    "chat": {
        "public": {"can_send": True, "text": True, "files": False},
        "private": {"can_send": False, "can_receive": True, "text": False, "files": False},
    },
    "polls": {"can_create": False, "can_vote": False, "can_view": True},
    "plugins": {"can_start": False, "can_close": False, "can_edit_config": False, "config": {}},
    "connected_meetings": {
        "can_alter_connected_meetings": False,
        "can_switch_connected_meetings": False,
        "can_switch_to_parent_meeting": False,
    },
}

_CONFIG: dict[str, Any] = {
    "view_type": "GROUP_CALL",
    "max_video_streams": {"mobile": 4, "desktop": 9},
    "max_screenshare_count": 1,
    "media": {
        "video": {"quality": "vga", "frame_rate": 30},
        "screenshare": {"quality": "hd", "frame_rate": 5},
    },
}

# The colour values are the `default`s of Cloudflare's design_tokens schema. The reference's
# preset defaults (reference/preset_defaults.py) use this same table.
UI_DEFAULTS: dict[str, Any] = {
    "design_tokens": {
        "border_radius": "rounded",
        "border_width": "thin",
        "spacing_base": 4,
        "theme": "dark",
        "colors": {
            "brand": {"300": "#844d1c", "400": "#9d5b22", "500": "#b56927", "600": "#d37c30", "700": "#d9904f"},
            "background": {"600": "#222222", "700": "#1f1f1f", "800": "#1b1b1b", "900": "#181818", "1000": "#141414"},
            "danger": "#FF2D2D",
            "success": "#62A504",
            "text": "#EEEEEE",
            "text_on_brand": "#EEEEEE",
            "video_bg": "#191919",
            "warning": "#FFCD07",
        },
    }
}


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """`changes` laid over a copy of `base`: nested objects merge, other values replace."""
    out = copy.deepcopy(dict(base))
    for key, value in (changes or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def preset_body(
    name: str,
    permissions: Mapping[str, Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    ui: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete create_preset body; each given part changes only the keys it names."""
    return {
        "name": name,
        "config": _merged(_CONFIG, config),
        "permissions": _merged(_PERMISSIONS, permissions),
        "ui": _merged(UI_DEFAULTS, ui),
    }
