"""The command-line flags of `conformance run` that set a configuration value: one table, read
by the parser (cli.py), by the run request (`overrides`) and by the reports' "run it again"
command (reports/publish.py), so the three cannot disagree."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SettingFlag:
    flag: str
    key: str  # the configuration's dotted key (as in the TOML file)
    help: str = ""
    type: Any = None
    choices: tuple[str, ...] | None = None
    repeatable: bool = False
    metavar: str | None = None
    # Part of the command that runs the same checks against the same target again.
    reproduces: bool = True

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


SETTING_FLAGS: tuple[SettingFlag, ...] = (
    SettingFlag("--base-url", "target.base_url", "your implementation's REST base URL (…/client/v4)"),
    SettingFlag("--account-id", "target.account_id"),
    SettingFlag("--app-id", "target.app_id"),
    SettingFlag("--realtime-url", "target.realtime_url", "websocket endpoint for the suite's participants"),
    SettingFlag("--profile", "target.profiles", "claimed profile (repeatable)", repeatable=True),
    SettingFlag("--driver", "driver.kind", "how participants are driven", choices=("websocket", "bridge")),
    SettingFlag("--time-control", "time.control", "how timer checks move time", choices=("none", "test-clock")),
    SettingFlag(
        "--seed",
        "fuzz.seed",
        "fuzz and model phases: replay this seed (printed by every run)",
        type=int,
        reproduces=False,
    ),
    SettingFlag(
        "--fuzz-examples",
        "fuzz.examples",
        "fuzz phase: generated cases per operation",
        type=int,
        metavar="N",
        reproduces=False,
    ),
    SettingFlag(
        "--fuzz-time",
        "fuzz.time_seconds",
        "fuzz phase: keep fuzzing for S seconds",
        type=float,
        metavar="S",
        reproduces=False,
    ),
    SettingFlag(
        "--fuzz-preset", "fuzz.preset", "fuzz phase budget preset", choices=("default", "nightly"), reproduces=False
    ),
    SettingFlag("--run-id", "run_id", "name of the run's folder under the reports folder", reproduces=False),
    SettingFlag("--reports-dir", "reports_dir", "where run folders go (default: reports)", reproduces=False),
)


def add_to(parser: argparse.ArgumentParser) -> None:
    for f in SETTING_FLAGS:
        options: dict[str, Any] = {"help": f.help or None, "dest": f.dest}
        if f.repeatable:
            options["action"] = "append"
        if f.type is not None:
            options["type"] = f.type
        if f.choices:
            options["choices"] = list(f.choices)
        if f.metavar:
            options["metavar"] = f.metavar
        parser.add_argument(f.flag, **options)


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """The flags given, by configuration key (None and empty: not given)."""
    values = {f.key: getattr(args, f.dest, None) for f in SETTING_FLAGS}
    return {key: value for key, value in values.items() if value not in (None, [])}


def reproduce(settings: Mapping[str, object]) -> list[str]:
    """The flags that set these overrides again (only those that pick the target and checks)."""
    args: list[str] = []
    for f in SETTING_FLAGS:
        value = settings.get(f.key)
        if value is None or not f.reproduces:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            args += [f.flag, str(item)]
    return args
