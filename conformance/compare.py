"""Comparing two runs check by check: what a nightly job posts.

    new failure   did not pass now, passed (or did not exist) before
    fixed         passes now, did not pass before
    flipped       changed between two not-passing outcomes (e.g. ERROR → FAIL, FAIL → xfail)

Checks present in only one of the runs are counted, not listed one by one (a run restricted
with --requirement leaves most checks out). `conformance diff A B` exits 1 when B has a new
failure, 0 otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.errors import ConformanceError
from conformance.outcomes import Outcome, word
from conformance.reports.latest import resolve
from conformance.reports.stream import Check, Snapshot, load


@dataclass
class Change:
    nodeid: str
    requirements: list[str]
    before: str | None  # None: the check was not in the earlier run
    after: str
    message: str

    @property
    def label(self) -> str:
        was = word(self.before) if self.before else "absent"
        return f"{was} → {word(self.after)}"


@dataclass
class Comparison:
    before_id: str
    after_id: str
    new_failures: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    flipped: list[Change] = field(default_factory=list)
    unchanged: int = 0
    only_before: list[str] = field(default_factory=list)
    only_after: int = 0  # new checks that pass (new ones that do not are new failures)

    @property
    def quiet(self) -> bool:
        return not (self.new_failures or self.fixed or self.flipped)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(before: Snapshot, after_checks: dict[str, Check], after_id: str) -> Comparison:
    result = Comparison(before.run_id, after_id)
    for nodeid, now in sorted(after_checks.items()):
        then = before.checks.get(nodeid)
        was = then.outcome if then is not None else None
        change = Change(nodeid, now.requirements, was, now.outcome, now.message)
        if was == now.outcome:
            result.unchanged += 1
        elif now.outcome == Outcome.PASS:
            if was is None:
                result.only_after += 1
            else:
                result.fixed.append(change)
        elif was is None or was == Outcome.PASS:
            result.new_failures.append(change)
        else:
            result.flipped.append(change)
    result.only_before = sorted(set(before.checks) - set(after_checks))
    return result


# -- which earlier run a new run may be compared with ---------------------------------------

# How many earlier run folders are read when looking for a comparable one (newest first).
SEARCH_LIMIT = 30


def _target(meta: dict[str, Any]) -> tuple[object, ...]:
    """What was judged: a configured server (URL, account, app) or the embedded reference
    with its faults. The description is free text and may change between builds."""
    target = (meta.get("config") or {}).get("target") or {}
    return (target.get("base_url"), target.get("account_id"), target.get("app_id"), tuple(meta.get("faults") or []))


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Why two runs' checks cannot be read as "the same checks, later"; [] when they can."""
    if not before:
        return ["the earlier run has no results.json (it was cut short)"]
    found = []
    if _target(before) != _target(after):
        found.append(f"it judged another target ({before.get('target', '?')})")
    for key, what in (("requirements", "requirement selection"), ("phases", "phases"), ("profiles", "profiles")):
        if sorted(before.get(key) or []) != sorted(after.get(key) or []):
            shown = ", ".join(before.get(key) or []) or "all"
            found.append(f"another {what} ({shown})")
    if before.get("rerun_of") or after.get("rerun_of"):
        found.append("one of the runs re-ran only failed checks")
    if before.get("reason"):
        found.append(f"it did not finish ({before['reason']})")
    return found


def choose(reports_dir: Path, this_run: str, meta: dict[str, Any]) -> tuple[Snapshot | None, str]:
    """The newest earlier run with the same target and selection, or (None, why none)."""
    if not reports_dir.is_dir():
        return None, "no earlier run"
    folders = sorted(
        (p for p in reports_dir.iterdir() if p.is_dir() and not p.is_symlink() and p.name != this_run),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )[:SEARCH_LIMIT]
    newest_reason = ""
    for folder in folders:
        try:
            before = load(folder)
        except (OSError, ValueError, KeyError, ConformanceError):
            continue
        problems = differences(before.meta, meta)
        if not problems:
            return before, ""
        if not newest_reason:
            newest_reason = f"the latest earlier run {before.run_id}: {'; '.join(problems)}"
    if not newest_reason:
        return None, "no earlier run"
    return None, f"no earlier run with the same target and selection ({newest_reason})"


def diff_dirs(before_dir: Path, after_dir: Path) -> Comparison:
    before, after = load(resolve(before_dir)), load(resolve(after_dir))
    return compare(before, after.checks, after.run_id)


def render(comparison: Comparison) -> str:
    """Plain text that reads well in a terminal and pasted into a chat or an issue."""
    c = comparison
    lines = [f"comparing {c.before_id} → {c.after_id}"]
    for title, changes in (("new failures", c.new_failures), ("fixed", c.fixed), ("flipped", c.flipped)):
        if not changes:
            continue
        lines.append(f"\n{title} ({len(changes)}):")
        for change in changes:
            detail = f" — {change.message[:200]}" if change.message and change.after != Outcome.PASS else ""
            lines.append(f"  {change.label:<18} {','.join(change.requirements):<10} {change.nodeid}{detail}")
    lines.append("")
    lines.append(
        f"{len(c.new_failures)} new failure(s), {len(c.fixed)} fixed, {len(c.flipped)} flipped, "
        f"{c.unchanged} unchanged; {c.only_after} new passing check(s), "
        f"{len(c.only_before)} check(s) only in {c.before_id}"
    )
    return "\n".join(lines)
