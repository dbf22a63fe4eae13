"""The outcomes a check or a requirement can have: the one list every module judges with.

    fail              a MUST check failed: the implementation broke the requirement (exit 1)
    error             the suite could not tell: target unreachable, suite fault (exit 2)
    not_run           claimed, but no check could run: an error, never a pass (exit 2)
    warning           a SHOULD check failed: reported, never gates
    expected_failure  failed, as an expectation file (--expect) said it would; does not gate,
                      but a stale or expired entry does (conformance/expectations.py)
    pass              every check of it ran and passed
    disabled          the target does not claim the requirement's profile

The values are what `results.jsonl` and `results.json` hold; `word` is what the verdict
table, the progress lines and the HTML badges show.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Outcome(StrEnum):
    # Worst first: a requirement's outcome is the worst of its checks' (`worst`).
    FAIL = "fail"
    ERROR = "error"
    NOT_RUN = "not_run"
    WARNING = "warning"
    EXPECTED_FAILURE = "expected_failure"
    PASS = "pass"
    DISABLED = "disabled"

    @property
    def word(self) -> str:
        return WORDS[self]


WORDS: dict[str, str] = {
    Outcome.FAIL: "FAIL",
    Outcome.ERROR: "ERROR",
    Outcome.NOT_RUN: "NOT RUN",
    Outcome.WARNING: "warn",
    Outcome.EXPECTED_FAILURE: "xfail",
    Outcome.PASS: "pass",
    Outcome.DISABLED: "-",
}

ORDER: tuple[Outcome, ...] = tuple(Outcome)
# What a re-run repeats and a comparison counts as "did not pass".
NOT_PASSED = (Outcome.FAIL, Outcome.ERROR, Outcome.NOT_RUN, Outcome.WARNING, Outcome.EXPECTED_FAILURE)
# The check caught the implementation breaking its requirement (MUST or SHOULD): what a fault
# must cause in the selftest, and what an expectation entry may excuse.
CAUGHT = (Outcome.FAIL, Outcome.WARNING)
# The suite could not tell: never a pass, exit 2.
INCONCLUSIVE = (Outcome.ERROR, Outcome.NOT_RUN)


def word(outcome: str) -> str:
    """The displayed word for an outcome; an unknown string (an old or foreign file) as is."""
    return WORDS.get(outcome, outcome)


def worst(outcomes: Iterable[str]) -> Outcome:
    """The worst of some outcomes (at least one, each a known outcome)."""
    present = set(outcomes)
    return next(o for o in ORDER if o in present)
