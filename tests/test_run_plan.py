"""The run plan (conformance/plan.py): every flag reaches the checks, on the embedded path too.

Before the plan, the runner handed flags down as RTKC_* variables and the child, starting the
embedded reference, overwrote them: `--driver bridge` with a missing bridge passed without the
bridge ever running, and `--time-control none` was dropped the same way. Here each setting flag
is resolved as `conformance run` resolves it, read back the way the engine reads it, and put
through the embedded reference's fill-in; three end-to-end runs show the effect in a real run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cli, plan, run_flags
from conformance.errors import ConfigError
from conformance.runner import RunRequest, _child_env, resolve
from conformance.target import embed
from tests.processes import isolated_env

# A value for each setting flag, and what the engine's configuration must then hold.
EMBEDDED_VALUES = {
    "--profile": (["session", "classroom"], ("session", "classroom")),
    "--driver": ("bridge", "bridge"),
    "--time-control": ("none", "none"),
    "--seed": ("7", 7),
    "--fuzz-examples": ("3", 3),
    "--fuzz-time": ("2.5", 2.5),
    "--fuzz-preset": ("nightly", "nightly"),
    "--run-id": ("plan-test", "plan-test"),
    "--reports-dir": ("elsewhere", Path("elsewhere")),
}
# Flags that describe someone else's server: the embedded reference cannot honour them.
FOREIGN = {"--account-id": "acct", "--app-id": "app", "--realtime-url": "ws://127.0.0.1:9/realtime"}


def _request(argv: list[str]) -> RunRequest:
    args = cli.parser().parse_args(["run", *argv])
    return RunRequest(overrides=run_flags.overrides(args), requirements=args.requirement or [])


def _engine_config(request: RunRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Resolve as the runner does, then read the plan back as the engine does (from the file
    and the engine's environment only)."""
    monkeypatch.setattr(os, "environ", isolated_env() | {"RTKC_BRIDGE_COMMAND": sys.executable})
    the_plan, config = resolve(request)
    path = the_plan.write(tmp_path / "plan.json")
    child_env = _child_env(path, config)
    assert not [k for k in child_env if k.startswith("RTKC_") and k != plan.PLAN_ENV and "TOKEN" not in k]
    read = plan.RunPlan.read(Path(child_env[plan.PLAN_ENV]))
    assert read == the_plan
    return read, read.config(child_env)


def test_every_setting_flag_is_in_the_table_and_documented_by_the_parser():
    run = next(a for a in cli.parser()._subparsers._group_actions[0].choices.items() if a[0] == "run")[1]
    option_strings = {s for action in run._actions for s in action.option_strings}
    assert {f.flag for f in run_flags.SETTING_FLAGS} <= option_strings
    assert set(EMBEDDED_VALUES) | set(FOREIGN) | {"--base-url"} == {f.flag for f in run_flags.SETTING_FLAGS}


@pytest.mark.parametrize("flag", sorted(EMBEDDED_VALUES))
def test_a_setting_flag_reaches_the_engine_on_the_embedded_path(flag, tmp_path, monkeypatch):
    given, expected = EMBEDDED_VALUES[flag]
    argv = [x for value in (given if isinstance(given, list) else [given]) for x in (flag, value)]
    the_plan, config = _engine_config(_request(argv), tmp_path, monkeypatch)
    assert the_plan.embedded
    key = next(f.key for f in run_flags.SETTING_FLAGS if f.flag == flag)
    table, _, name = key.rpartition(".")
    held = getattr(getattr(config, table), name) if table else getattr(config, name)
    assert held == expected
    # ... and the embedded reference, filling in its own URLs and tokens, leaves it alone.
    embedded, server = embed(config)
    try:
        held = getattr(getattr(embedded, table), name) if table else getattr(embedded, name)
        assert held == expected
        assert embedded.target.base_url and embedded.tokens.admin
    finally:
        server.stop()


def test_the_base_url_flags_reach_the_engine_for_a_configured_target(tmp_path, monkeypatch):
    argv = ["--base-url", "http://127.0.0.1:9/client/v4", *[x for f, v in FOREIGN.items() for x in (f, v)]]
    monkeypatch.setenv("RTKC_ADMIN_TOKEN", "plan-test-token")
    request = _request(argv)
    monkeypatch.setattr(os, "environ", isolated_env() | {"RTKC_ADMIN_TOKEN": "plan-test-token"})
    the_plan, config = resolve(request)
    path = the_plan.write(tmp_path / "plan.json")
    assert "plan-test-token" not in path.read_text()  # tokens never in the plan file
    child = plan.RunPlan.read(path).config(_child_env(path, config))
    assert not the_plan.embedded
    assert (child.target.base_url, child.target.account_id, child.target.app_id) == (
        "http://127.0.0.1:9/client/v4",
        "acct",
        "app",
    )
    assert child.target.realtime_url == FOREIGN["--realtime-url"]
    assert child.tokens.admin == "plan-test-token"


@pytest.mark.parametrize("flag", sorted(FOREIGN))
def test_a_setting_the_embedded_reference_cannot_honour_is_refused_by_name(flag, monkeypatch):
    monkeypatch.setattr(os, "environ", isolated_env())
    with pytest.raises(ConfigError, match=r"target\.\w+ \(RTKC_\w+\) set, but no target.base_url"):
        resolve(_request([flag, FOREIGN[flag]]))


def test_a_token_for_the_embedded_reference_is_refused_without_showing_it(monkeypatch):
    monkeypatch.setattr(os, "environ", isolated_env() | {"RTKC_ADMIN_TOKEN": "secret-plan-token"})
    with pytest.raises(ConfigError) as refused:
        resolve(RunRequest())
    assert "tokens.admin (RTKC_ADMIN_TOKEN)" in str(refused.value)
    assert "secret-plan-token" not in str(refused.value)


def test_the_plan_carries_the_selection_faults_and_model_choices(tmp_path, monkeypatch):
    request = RunRequest(
        requirements=["end-02"],
        faults=["ended_says_left"],
        shuffle_seed=3,
        model_replay="/stories/a.json",
        model_preset="nightly",
    )
    the_plan, _ = _engine_config(request, tmp_path, monkeypatch)
    assert (the_plan.requirements, the_plan.faults, the_plan.shuffle_seed) == (("END-02",), ("ended_says_left",), 3)
    assert (the_plan.model_replay, the_plan.model_preset) == ("/stories/a.json", "nightly")


def test_embedded_defaults_fill_only_what_is_unset(tmp_path, monkeypatch):
    _, config = _engine_config(_request([]), tmp_path, monkeypatch)
    assert (config.time.control, config.limits.event_timeout_seconds) == ("test-clock", 3.0)
    monkeypatch.setattr(os, "environ", isolated_env() | {"RTKC_EVENT_TIMEOUT_SECONDS": "4"})
    assert resolve(_request(["--time-control", "none"]))[1].limits.event_timeout_seconds == 4.0


def _conformance(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**isolated_env(), **(env or {})},
        check=False,
    )


def test_a_missing_bridge_stops_the_run_with_exit_2_naming_it(tmp_path):
    done = _conformance(
        "--driver",
        "bridge",
        "--requirement",
        "KICK-01",
        "--reports-dir",
        str(tmp_path),
        env={"RTKC_BRIDGE_COMMAND": "/nonexistent/bridge"},
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "bridge command not found: '/nonexistent/bridge'" in done.stderr
    assert not list(tmp_path.iterdir())  # refused before anything ran


@pytest.mark.slow(8)
def test_the_bridge_flag_drives_the_embedded_run_through_the_bridge(tmp_path):
    marker = tmp_path / "bridge-started"
    bridge = tmp_path / "bridge.sh"
    bridge.write_text(
        f'#!/bin/sh\necho started >> "{marker}"\nexec "{sys.executable}" -m conformance.drivers.example_bridge\n'
    )
    bridge.chmod(0o755)
    done = _conformance(
        "--driver",
        "bridge",
        "--requirement",
        "KICK-01",
        "--phase",
        "scenarios",
        "--reports-dir",
        str(tmp_path / "reports"),
        env={"RTKC_BRIDGE_COMMAND": str(bridge)},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "PARTIAL" in done.stdout
    assert marker.exists(), "the run passed without ever starting the bridge"


def test_time_control_none_reaches_the_embedded_run(tmp_path):
    """A LEAVE-04 check waits out the keep-alive window: with the test clock it runs (the clean
    run passes it), and with `--time-control none` and no real-time budget it cannot (NOT RUN,
    exit 2); before the plan the flag was dropped and the check passed."""
    done = _conformance(
        "--time-control",
        "none",
        "--requirement",
        "LEAVE-04",
        "--phase",
        "scenarios",
        "--reports-dir",
        str(tmp_path),
        "--run-id",
        "no-clock",
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "no-clock" / "results.jsonl").read_text().splitlines()]
    waits = [r for r in records if r["outcome"] == "not_run"]
    assert waits and all("time" in r["message"] for r in waits), records
