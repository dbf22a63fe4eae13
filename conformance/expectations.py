"""Expectation files: the known failures of one implementation, by requirement ID.

    # acme-expectations.toml  (conformance run --expect acme-expectations.toml)
    implementation = "acme-rtk 2.3"

    [[expected]]
    requirement = "END-07"
    reason = "a double end sends two meeting.ended (ACME-1234, fixed in 2.4)"
    expires = 2027-01-31          # optional; after this day the entry fails the run

A JSON file with the same shape ({"implementation": ..., "expected": [...]}) works too.

An expected failure that happens is reported as `expected_failure` and does not fail the run.
Entries cannot hide anything for long: an entry whose requirement passes (stale) or whose
expiry date has passed fails the run (exit 1), so the file must be kept true. Entries only
count for requirements the run covers (claimed and selected); a requirement the suite could
not tell about (error, not run) stays an error. A certificate is never issued while a MUST
is only expected to fail (see conformance.reports.certificate).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from conformance.catalogue import Catalogue
from conformance.errors import ConfigError
from conformance.outcomes import CAUGHT, Outcome


@dataclass(frozen=True)
class Expectation:
    requirement: str
    reason: str
    expires: date | None = None

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires

    def as_dict(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass(frozen=True)
class Expectations:
    path: Path
    implementation: str = ""
    entries: dict[str, Expectation] = field(default_factory=dict)

    def active(self, requirement_id: str, today: date) -> Expectation | None:
        entry = self.entries.get(requirement_id)
        return entry if entry is not None and not entry.expired(today) else None


def load(path: Path, catalogue: Catalogue) -> Expectations:
    """Read and check an expectation file; any mistake is a ConfigError (exit 2, nothing runs)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"expectation file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"expectation file {path}: cannot parse: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("expected", []), list):
        raise ConfigError(f"expectation file {path}: expected a table with an `expected` list")
    unknown = set(data) - {"implementation", "expected"}
    if unknown:
        raise ConfigError(f"expectation file {path}: unknown key(s) {', '.join(sorted(unknown))}")
    known = set(catalogue.ids())
    entries: dict[str, Expectation] = {}
    for n, raw in enumerate(data.get("expected", []), 1):
        where = f"expectation file {path}, entry {n}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a table")
        extra = set(raw) - {"requirement", "reason", "expires"}
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        rid, reason = raw.get("requirement"), raw.get("reason")
        if not isinstance(rid, str) or rid not in known:
            raise ConfigError(f"{where}: requirement {rid!r} is not in the catalogue")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{where} ({rid}): a reason is required")
        if rid in entries:
            raise ConfigError(f"{where}: {rid} is listed twice")
        entries[rid] = Expectation(rid, reason.strip(), _date(raw.get("expires"), where))
    implementation = data.get("implementation", "")
    return Expectations(path, str(implementation), entries)


def _date(raw: object, where: str) -> date | None:
    if raw is None:
        return None
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise ConfigError(f"{where}: expires must be a date (YYYY-MM-DD), got {raw!r}")


def mark(records: Iterable[dict[str, Any]], expectations: Expectations | None, today: date) -> list[dict[str, Any]]:
    """Copies of the check records, a failing check whose requirements are all expected to
    fail (and not expired) turned into `expected_failure`; `observed` keeps what happened."""
    out = []
    for record in records:
        record = {**record, "observed": record["outcome"]}
        if (
            expectations is not None
            and record["outcome"] in CAUGHT
            and all(expectations.active(rid, today) for rid in record["requirements"])
        ):
            record["outcome"] = Outcome.EXPECTED_FAILURE
        out.append(record)
    return out


def problems(verdicts: Iterable[Any], expectations: Expectations | None, today: date) -> list[str]:
    """Entries that can no longer stand, one line each; each makes the run fail (exit 1).

    Sets `note` on the verdicts concerned, so every report shows the problem in its row.
    """
    if expectations is None:
        return []
    found = []
    for verdict in verdicts:
        entry = expectations.entries.get(verdict.requirement.id)
        if entry is None or verdict.outcome == Outcome.DISABLED:
            continue
        verdict.expectation = entry
        if entry.expired(today):
            verdict.note = (
                f"expectation expired on {entry.expires}: remove or renew the entry for "
                f"{entry.requirement} in {expectations.path.name} (reason was: {entry.reason})"
            )
        elif verdict.outcome == Outcome.PASS:
            verdict.note = (
                f"expected to fail but passed: remove the stale entry for {entry.requirement} "
                f"from {expectations.path.name} (reason was: {entry.reason})"
            )
        else:
            continue
        found.append(f"{entry.requirement}: {verdict.note}")
    return found
