"""Steps, stories and replay files: what a person reads and what `--replay FILE` runs again.

A step names model objects (meeting `m1`, peer `p3`), never target ids, so a replay file
runs against any target. A `together` step holds two or three operations sent at once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPLAY_FORMAT = "rtkc-model-replay/1"


@dataclass(frozen=True)
class Step:
    kind: str
    meeting: str = ""
    peer: str = ""
    role: str = ""
    by: str = ""
    status: str = ""
    seconds: float = 0.0
    parts: tuple[Step, ...] = field(default=())

    def words(self) -> str:
        if self.kind == "together":
            return "at the same moment: " + "; ".join(p.words() for p in self.parts)
        return {
            "create_meeting": lambda: f"create meeting {self.meeting}",
            "join": lambda: f"{self.peer} ({self.role}) is added to {self.meeting} and joins",
            "leave": lambda: f"{self.peer} leaves",
            "kick": lambda: f"{self.peer} is kicked through REST (POST …/active-session/kick)",
            "client_kick": lambda: f"{self.by} (no kick permission) calls kick({self.peer})",
            "kick_all": lambda: f"kick-all through REST on {self.meeting}",
            "client_kick_all": lambda: f"{self.by} calls kickAll()",
            "status": lambda: f"PATCH {self.meeting} status {self.status}",
            "advance": lambda: f"{self.seconds:g} s pass",
        }[self.kind]()

    def as_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v not in ("", 0.0, ())}
        if self.parts:
            data["parts"] = [p.as_json() for p in self.parts]
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Step:
        parts = tuple(Step.from_json(p) for p in data.get("parts", ()))
        fields = {k: v for k, v in data.items() if k != "parts"}
        return Step(**fields, parts=parts)


def numbered(steps: list[Step]) -> str:
    return "\n".join(f"  {i}. {step.words()}" for i, step in enumerate(steps, 1))


@dataclass
class Breach:
    """What the target did that the model forbids, at the step where it showed."""

    step: int  # 1-based index of the step after which it was seen
    requirements: tuple[str, ...]
    detail: str

    def words(self) -> str:
        return f"after step {self.step}: {self.detail} (requirement {', '.join(self.requirements)})"


def write_replay(path: Path, steps: list[Step], breach: Breach | None, seed: int | None, setup: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "format": REPLAY_FORMAT,
        "seed": seed,
        "setup": setup,
        "steps": [s.as_json() for s in steps],
        "story": [s.words() for s in steps],
        "breach": asdict(breach) if breach else None,
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def read_replay(path: Path) -> list[Step]:
    body = json.loads(path.read_text(encoding="utf-8"))
    if body.get("format") != REPLAY_FORMAT:
        raise ValueError(f"{path}: not a model replay file (format {body.get('format')!r})")
    return [Step.from_json(s) for s in body["steps"]]
