"""The requirement catalogue (catalogue.toml) as typed data.

Every requirement cites the public passages it rests on (`sources`). A MUST needs at least
one public RealtimeKit source (a seed document, a RealtimeKit docs page, Cloudflare's official
description); a requirement resting only on peer platforms or on the suite's own choice is a
SHOULD: a warning, never a gate. `load` refuses a catalogue that breaks that rule.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROFILES = ("api", "session", "webhooks", "recording", "classroom")
# What an implementation claims when it says nothing: what RealtimeKit itself documents.
# `classroom` rests on a legacy product's help page and the suite's definition of "host",
# so it is claimed only on purpose.
DOCUMENTED_PROFILES = ("api", "session", "webhooks", "recording")
OPT_IN_PROFILES = ("classroom",)
LEVELS = ("MUST", "SHOULD")
# Source kinds (docs/sources/README.md). Only the first three are RealtimeKit's own word.
PUBLIC_SOURCE_KINDS = ("seed", "openapi", "docs")
SOURCE_KINDS = (*PUBLIC_SOURCE_KINDS, "peer", "suite")


@dataclass(frozen=True)
class Source:
    kind: str
    ref: str = ""
    quote: str = ""
    note: str = ""

    @property
    def public(self) -> bool:
        return self.kind in PUBLIC_SOURCE_KINDS

    @property
    def label(self) -> str:
        """Short form for tables: `seed 002`, `openapi KickAllParticipants`, `peer`."""
        return f"{self.kind} {self.ref}".strip()


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    profile: str
    text: str
    sources: tuple[Source, ...]

    @property
    def gating(self) -> bool:
        return self.level == "MUST"

    @property
    def source(self) -> str:
        """The citations in one line, for tables and reports."""
        return "; ".join(dict.fromkeys(s.label for s in self.sources))


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


def _requirement(entry: dict) -> Requirement:
    sources = tuple(Source(**s) for s in entry.pop("sources", ()))
    requirement = Requirement(**entry, sources=sources)
    where = f"catalogue entry {requirement.id}"
    if requirement.level not in LEVELS or requirement.profile not in PROFILES:
        raise ValueError(f"{where}: bad level or profile")
    if not sources:
        raise ValueError(f"{where}: no sources")
    unknown = [s.kind for s in sources if s.kind not in SOURCE_KINDS]
    if unknown:
        raise ValueError(f"{where}: unknown source kind(s) {unknown}")
    if requirement.gating and not any(s.public for s in sources):
        raise ValueError(f"{where}: a MUST needs a public RealtimeKit source (seed, openapi or docs)")
    return requirement


@cache
def load(path: Path | None = None) -> Catalogue:
    path = path or Path(__file__).with_name("catalogue.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    requirements = tuple(_requirement(dict(entry)) for entry in data["requirement"])
    return Catalogue(data["version"], requirements)
