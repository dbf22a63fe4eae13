"""The suite's error tree: who is to blame when a check does not pass.

ConformanceError(Exception)
├── SuiteCouldNotRun              # outcome "error", exit code 2: the verdict says nothing about
│   │                             # the implementation
│   ├── ConfigError               # bad or missing configuration
│   ├── TargetUnreachable         # connection refused/reset before any answer, DNS failure
│   ├── PreflightFailed           # before any check: wrong token, account or app id, or no
│   │                             # RealtimeKit API at base_url
│   ├── SuiteHookFailed           # a hook the suite drives the target through (test clock,
│   │                             # bridge process) misbehaved: the check could not be run
│   └── CheckNotRunnable          # claimed check that cannot run here (e.g. no time control
│                                 # and no time budget)
└── ImplementationFailed(ConformanceError, AssertionError)   # outcome "fail", exit code 1
    ├── UnexpectedResponse        # wrong status, wrong body, garbage, wrong content type
    └── TargetTimeout             # connected but no (complete) answer within the deadline

ImplementationFailed also subclasses AssertionError so pytest reports it as a failed check
rather than an error in the test code.
"""

from __future__ import annotations

from typing import ClassVar

from conformance.outcomes import Outcome

__all__ = [
    "CheckNotRunnable",
    "ConfigError",
    "ConformanceError",
    "ImplementationFailed",
    "PreflightFailed",
    "SuiteCouldNotRun",
    "SuiteHookFailed",
    "TargetTimeout",
    "TargetUnreachable",
    "UnexpectedResponse",
]


class ConformanceError(Exception):
    """Base of every error the suite raises on purpose.

    `str()` is always one line: what was expected, what happened, and where to look
    (an evidence exchange id when there is one), so a report needs no traceback.
    """

    outcome: ClassVar[str] = Outcome.ERROR
    exit_code: ClassVar[int] = 2

    def __init__(self, message: str, *, exchange_id: str | None = None) -> None:
        # Reports print one line per failure; a stray newline would break that.
        self.message = " ".join(message.split())
        self.exchange_id = exchange_id
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.exchange_id:
            return f"{self.message} [evidence {self.exchange_id}]"
        return self.message


class SuiteCouldNotRun(ConformanceError):
    """The run (or one check) could not be carried out; this says nothing about the target."""

    outcome = Outcome.ERROR
    exit_code = 2


class ConfigError(SuiteCouldNotRun):
    """The configuration is missing something or holds a value that cannot work."""


class TargetUnreachable(SuiteCouldNotRun):
    """No HTTP answer could even start: refused, reset, DNS failure, connect timeout."""


class PreflightFailed(SuiteCouldNotRun):
    """The first harmless requests show the run cannot work: a refused token, an unknown
    account or app, or something other than a RealtimeKit API at base_url. The message names
    the setting to fix."""


class SuiteHookFailed(SuiteCouldNotRun):
    """A hook that exists only for the suite (the test clock, the bridge process) did not do its
    job. RealtimeKit publishes no such hook, so its failure cannot fail a requirement."""


class CheckNotRunnable(SuiteCouldNotRun):
    """A check was asked for but the target's setup gives it no way to run."""


class ImplementationFailed(ConformanceError, AssertionError):
    """The implementation answered, and the answer breaks a requirement."""

    outcome = Outcome.FAIL
    exit_code = 1


class UnexpectedResponse(ImplementationFailed):
    """Wrong status, wrong body shape, garbage, or the wrong content type."""


class TargetTimeout(ImplementationFailed):
    """Connected (or waiting for an event), but nothing complete arrived before the deadline."""
