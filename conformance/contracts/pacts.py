"""The committed pacts, read as the list of interactions a provider must honour."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from conformance.resources import pacts_dir

HTTP = "Synchronous/HTTP"
MESSAGE = "Asynchronous/Messages"


@dataclass(frozen=True)
class ProviderState:
    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class Interaction:
    source: Path  # the pact file
    consumer: str
    provider: str
    description: str
    kind: str  # HTTP or MESSAGE
    states: tuple[ProviderState, ...]

    @property
    def key(self) -> str:
        """Names the interaction in check ids and reports: "<consumer>: <description>"."""
        return f"{self.consumer}: {self.description}"

    @property
    def is_message(self) -> bool:
        return self.kind == MESSAGE

    def has_state(self, name: str) -> bool:
        return any(state.name == name for state in self.states)


def read(path: Path) -> list[Interaction]:
    pact = json.loads(path.read_text(encoding="utf-8"))
    return [
        Interaction(
            source=path,
            consumer=pact["consumer"]["name"],
            provider=pact["provider"]["name"],
            description=item["description"],
            kind=item.get("type", HTTP),
            states=tuple(
                ProviderState(s["name"], tuple(sorted((s.get("params") or {}).items())))
                for s in item.get("providerStates", [])
            ),
        )
        for item in pact.get("interactions", [])
    ]


@cache
def interactions(directory: Path | None = None) -> tuple[Interaction, ...]:
    """Every interaction of every pact file, in file then description order."""
    folder = directory or pacts_dir()
    found = [i for path in sorted(folder.glob("*.json")) for i in read(path)]
    return tuple(sorted(found, key=lambda i: (i.consumer, i.description)))
