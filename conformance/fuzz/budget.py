"""How much fuzzing a run does: a preset, which `[fuzz] examples` / `time_seconds` override.

`examples` bounds each pass: that many generated cases per operation in the fuzzing phase
(the coverage phase's boundary cases and the stateful phase's link chains come on top). A
pass bounded only by examples is reproducible: the same seed against a fresh target sends
the same requests. A time budget makes schemathesis repeat fuzzing and stateful passes until
the time is spent, so the run's length is fixed and its request count is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from conformance.config import FuzzConfig


@dataclass(frozen=True)
class Budget:
    preset: str
    examples: int
    time_seconds: float | None = None

    def describe(self) -> str:
        spent = f", for {self.time_seconds:g} s" if self.time_seconds else ""
        return f"preset {self.preset}: {self.examples} examples per operation{spent}"


# default: keeps `conformance run` quick (on the reference, about 2,000 requests in ~10 s);
# nightly: ten times the examples, and fuzzing goes on for ten minutes.
PRESETS = {
    "default": Budget("default", examples=10),
    "nightly": Budget("nightly", examples=100, time_seconds=600.0),
}


def budget_for(config: FuzzConfig) -> Budget:
    preset = PRESETS[config.preset]
    return Budget(
        preset=preset.preset,
        examples=config.examples or preset.examples,
        time_seconds=config.time_seconds or preset.time_seconds,
    )


def pace(requests_per_10s: int | None) -> str | None:
    """schemathesis' rate limit for the target's limit (it knows per second and per minute)."""
    if requests_per_10s is None:
        return None
    if requests_per_10s >= 10:
        return f"{math.floor(requests_per_10s / 10)}/s"
    return f"{requests_per_10s * 6}/m"


# How many requests a pass sends, roughly: the coverage phase's fixed boundary cases plus,
# per example, the fuzzing phase's requests and the stateful chains (measured on the reference).
_COVERAGE_REQUESTS = 2000
_REQUESTS_PER_EXAMPLE = 40
_SLOWEST_RATE = 20.0  # requests per second we still expect from a target without a limit


def deadline_seconds(budget: Budget, requests_per_10s: int | None) -> float:
    """When a campaign that has not finished is stopped: far beyond what its budget needs."""
    rate = _SLOWEST_RATE if requests_per_10s is None else min(_SLOWEST_RATE, requests_per_10s / 10)
    expected = (_COVERAGE_REQUESTS + _REQUESTS_PER_EXAMPLE * budget.examples) / rate
    return 3 * expected + (budget.time_seconds or 0.0) + 60.0
