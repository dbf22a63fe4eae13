"""The run plan: a run's configuration, resolved once, in the process that was asked to run.

Flags, environment, TOML file and defaults become one immutable plan before anything runs
(`resolve`). Every process below the runner (the engine pytest, its xdist workers) reads the
plan file named by `RTKC_PLAN` and nothing else: a flag given to `conformance run` cannot be
lost, or read differently, on its way down. Tokens are not in the file: they reach the child
as literal variables in its environment (config.secret_variables), as they always did.

For the embedded reference the plan says so, and holds the settings it will be started with
(its faults, its clock); it fills in only what the user left unset (EMBEDDED_DEFAULTS), and a
setting it cannot honour (an account id, a token: the reference makes its own) is refused
here, with a clear error, instead of being silently replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conformance.config import ENV_NAMES, SECRET_NAMES, RunConfig, build, from_plain, gather, plain_settings
from conformance.errors import ConfigError

PLAN_ENV = "RTKC_PLAN"

# What is known of the embedded reference's timing (3 s delivery timeout, 1 s first backoff;
# on loopback an event or delivery follows its cause within milliseconds, so 3 s is a wide
# margin, and every "nothing happens" window, which lasts the event timeout, stays short).
# It has no rate limit of its own and is not shared, so the suite's budget only slows the run.
# Its test clock is on unless time.control is chosen. A user's own setting always wins.
EMBEDDED_DEFAULTS: dict[str, object] = {
    "time.control": "test-clock",
    "limits.webhook_retry_seconds": 10.0,
    "limits.requests_per_10s": 5000,
    "limits.event_timeout_seconds": 3.0,
}

# Settings that describe someone else's server. The embedded reference makes its own accounts,
# ids, tokens and presets, so a value here would be ignored: refused instead.
_FOREIGN = (
    "target.account_id",
    "target.app_id",
    "target.realtime_url",
    "target.webhook_public_key_url",
    "other_account.account_id",
    "other_account.app_id",
    "other_account.token",
    "tokens.admin",
    "tokens.readonly",
    "tokens.no_permission",
    "presets.host",
    "presets.participant",
)


@dataclass(frozen=True)
class RunPlan:
    settings: dict[str, Any]  # config.plain_settings: every setting but the tokens
    embedded: bool  # start the bundled reference, one per test process
    faults: tuple[str, ...] = ()  # the embedded reference's faults
    requirements: tuple[str, ...] = ()  # empty: every claimed requirement
    shuffle_seed: int | None = None  # the flake gate's random order
    rate_window: str | None = None  # the run's shared request budget file (request_budget.SharedWindow)
    model_replay: str | None = None  # the model phase: a saved story to tell instead of walking
    model_preset: str | None = None  # the model phase's budget preset

    def config(self, env: Mapping[str, str] | None = None) -> RunConfig:
        """The run's configuration; tokens from the environment (never from the file)."""
        return from_plain(self.settings, os.environ if env is None else env)

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> RunPlan:
        data = json.loads(path.read_text(encoding="utf-8"))
        for name in ("faults", "requirements"):
            data[name] = tuple(data[name])
        return cls(**data)


def resolve(
    config_path: Path | None,
    overrides: Mapping[str, object],
    env: Mapping[str, str],
    faults: tuple[str, ...] = (),
    **details: Any,
) -> tuple[RunPlan, RunConfig]:
    """The plan for a run, and its configuration (with tokens) for the resolving process."""
    values = gather(config_path, env, overrides)
    embedded = not values.get("target.base_url")
    if not embedded and faults:
        raise ConfigError("--reference-fault only applies to the embedded reference; drop target.base_url")
    if embedded:
        foreign = [key for key in _FOREIGN if key in values]
        if foreign:
            names = ", ".join(f"{key} ({ENV_NAMES.get(key) or SECRET_NAMES[key]})" for key in foreign)
            raise ConfigError(
                f"{names} set, but no target.base_url: the embedded reference runs with its own accounts, "
                "tokens and presets and cannot use these; set target.base_url (RTKC_BASE_URL) to test your "
                "implementation, or unset them"
            )
        values = {**EMBEDDED_DEFAULTS, **values}
        # One reference per test process, limitless: no shared request budget.
        details["rate_window"] = None
    config = build(values)
    check_bridge(config)
    plan = RunPlan(settings=plain_settings(config), embedded=embedded, faults=tuple(faults), **details)
    return plan, config


def check_bridge(config: RunConfig) -> None:
    """A bridge driver whose command cannot start is the suite's problem, before any check."""
    if config.driver.kind != "bridge":
        return
    program = config.driver.bridge_command[0]
    if shutil.which(program) is None:
        raise ConfigError(
            f"bridge command not found: {program!r} (driver.bridge_command / RTKC_BRIDGE_COMMAND); "
            "give a path to an executable or a program on PATH"
        )


def current() -> RunPlan | None:
    """The plan this process was started with, if any."""
    path = os.environ.get(PLAN_ENV)
    return RunPlan.read(Path(path)) if path else None
