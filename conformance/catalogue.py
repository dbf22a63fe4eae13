"""The requirement catalogue (catalogue.toml) as typed data."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROFILES = ("api", "session", "webhooks", "recording", "classroom")
LEVELS = ("MUST", "SHOULD")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    profile: str
    text: str
    source: str

    @property
    def gating(self) -> bool:
        return self.level == "MUST"


@dataclass(frozen=True)
class Catalogue:
    version: str
    requirements: tuple[Requirement, ...]

    def __getitem__(self, requirement_id: str) -> Requirement:
        for requirement in self.requirements:
            if requirement.id == requirement_id:
                return requirement
        raise KeyError(requirement_id)

    def ids(self) -> list[str]:
        return [r.id for r in self.requirements]

    def for_profiles(self, profiles: tuple[str, ...] | list[str]) -> list[Requirement]:
        return [r for r in self.requirements if r.profile in profiles]


@cache
def load(path: Path | None = None) -> Catalogue:
    path = path or Path(__file__).with_name("catalogue.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    requirements = tuple(Requirement(**entry) for entry in data["requirement"])
    for r in requirements:
        if r.level not in LEVELS or r.profile not in PROFILES:
            raise ValueError(f"catalogue entry {r.id}: bad level or profile")
    return Catalogue(data["version"], requirements)
