"""Which requirements each reference fault is known to break: declared, and seen.

A fault declares the requirement(s) whose checks must catch it (faults/); a run often shows
more red (`ended_says_left` declares END-02 and END-05; the webhook it sends wrong turns
others red too). What the selftest saw is kept in `known_breaks.json`, shipped with the
package, so `conformance faults` can list both without running anything. It is refreshed by
`conformance selftest --record-known` (the faults run, each replacing its own row): a plain
selftest runs each fault against its own requirements' checks only ("targeted"); `--full`
runs every check and sees every requirement a fault breaks ("full").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.kill_matrix import KillMatrix

KNOWN = Path(__file__).with_name("known_breaks.json")
REFRESH = "conformance selftest --record-known (add --full to run every check)"


def load(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """fault name -> {"seen": [requirement ids], "checks": "targeted" | "full"}."""
    path = path or KNOWN
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["faults"]


def seen_in(kills: KillMatrix) -> dict[str, list[str]]:
    """fault name -> the requirements of the checks it turned red."""
    return {
        name: sorted({rid for node in row["turned_red"] for rid in kills.checks[node]["requirements"]})
        for name, row in kills.faults.items()
    }


def record(kills: KillMatrix, full: bool, path: Path | None = None) -> Path:
    """Replace the rows of the faults this selftest ran; keep the others."""
    path = path or KNOWN
    known = load(path)
    for name, seen in seen_in(kills).items():
        known[name] = {"seen": seen, "checks": "full" if full else "targeted"}
    return write(known, path)


def write(known: dict[str, dict[str, Any]], path: Path) -> Path:
    # One fault a line, so a refresh reads as a diff of the faults whose rows changed.
    rows = ",\n".join(f"  {json.dumps(name)}: {json.dumps(row)}" for name, row in sorted(known.items()))
    path.write_text(f'{{\n "refresh": {json.dumps(REFRESH)},\n "faults": {{\n{rows}\n }}\n}}\n', encoding="utf-8")
    return path
