"""A check's name as people read it: `END-02 everyone gets roomLeft ended and is disconnected`.

Node ids (`conformance/scenarios/test_end_session.py::test_…`) are the engine's keys; in a
wheel install they start with `../venv/lib/…`, which tells a reader nothing.
"""

from __future__ import annotations

import re

# Protocol and API words that test names spell in snake case.
_WORDS = {
    "room left": "roomLeft",
    "room joined": "roomJoined",
    "meeting ended": "meeting.ended",
    "meeting started": "meeting.started",
    "kick all": "kick-all",
    "active session": "active-session",
}


def function_name(nodeid: str) -> str:
    """The test function of a node id, parameters kept (`test_x[a]`)."""
    return nodeid.rsplit("::", 1)[-1]


def humanize(function: str) -> str:
    base, _, params = function.partition("[")
    words = " ".join(base.removeprefix("test_").split("_"))
    for snake, spelled in _WORDS.items():
        words = re.sub(rf"\b{snake}\b", spelled, words)
    return f"{words} [{params}" if params else words


def check_name(nodeid: str, requirements: list[str]) -> str:
    """Requirement ids first (what is judged), then what the check does."""
    ids = ",".join(requirements)
    return f"{ids} {humanize(function_name(nodeid))}".strip()
