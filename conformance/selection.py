"""What a run covers: requirement ids as typed by people, and whether the run is partial.

A run restricted by requirement, phase or re-run can only say PARTIAL: passing END-02 alone
is no claim of conformance, so it must never print CONFORMANT.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from conformance.errors import ConfigError


def _padded(rid: str) -> str:
    """`END-2` → `END-02`: the catalogue writes numbers with two digits."""
    return re.sub(r"-(\d)$", r"-0\1", rid)


def canonical_requirements(typed: Iterable[str], known: Iterable[str]) -> list[str]:
    """The catalogue's spelling of each typed id (case does not matter); an unknown id is a
    ConfigError that suggests the closest known ones."""
    by_upper = {rid.upper(): rid for rid in known}
    result, problems = [], []
    for raw in typed:
        for part in filter(None, (p.strip() for p in raw.split(","))):
            rid = by_upper.get(part.upper())
            if rid is not None:
                if rid not in result:
                    result.append(rid)
                continue
            padded = by_upper.get(_padded(part.upper()))
            close = difflib.get_close_matches(part.upper(), by_upper, n=3, cutoff=0.6)
            guesses = [padded] if padded is not None else [by_upper[g] for g in close]
            hint = f" (did you mean {' or '.join(guesses)}?)" if guesses else ""
            problems.append(f"{part}{hint}")
    if problems:
        raise ConfigError(f"unknown requirement id(s): {', '.join(problems)}; `conformance run --list` shows them all")
    return result


def partial_scope(
    requirements: list[str],
    phases: list[str],
    all_phases: list[str],
    rerun_of: object,
    fuzz_operations: tuple[str, ...] = (),
) -> str:
    """What a partial run covered, in words; "" for a full run."""
    parts = []
    if requirements:
        parts.append(f"requirement(s) {', '.join(requirements)}")
    if phases and set(phases) != set(all_phases):
        parts.append(f"phase(s) {', '.join(phases)}")
    if fuzz_operations and "fuzz" in (phases or all_phases):
        parts.append(f"fuzzing only {', '.join(fuzz_operations)}")
    if rerun_of is not None:
        parts.append(f"the checks of {rerun_of} that did not pass")
    return "; ".join(parts)
