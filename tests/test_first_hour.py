"""The first hour of an implementer (issue 14): the README's walk-through reaches CONFORMANT
against `conformance serve` run as an external target, `conformance init` claims only what
can reach a verdict, and the suite installs the way the CI example says."""

from __future__ import annotations

import inspect
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conformance import init
from conformance.config import EXAMPLE_TOML, load_config
from conformance.errors import ConfigError
from tests.processes import CLI, Served, isolated_env

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

READY = {
    "base_url": "http://127.0.0.1:9/client/v4",
    "account_id": "acc",
    "app_id": "app",
    "api_token": "canary-admin-0001",
    "realtime_url": "ws://127.0.0.1:9/realtime",
    "readonly_token": "canary-ro-0001",
    "no_permission_token": "canary-np-0001",
    "other_account": {"account_id": "acc2", "app_id": "app2", "api_token": "canary-other-0001"},
    "webhook_public_key_url": "http://127.0.0.1:9/.well-known/webhooks.json",
    "test_clock": True,
    "host_grace_seconds": 900,
}


def _block(after: str, language: str) -> str:
    start = README.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(README, start)
    assert match, f"no {language} block after {after!r}"
    return match.group(1)


def test_the_readme_toml_block_is_example_toml():
    assert _block("A complete, commented `target.toml`", "toml") == EXAMPLE_TOML


def test_the_ci_example_installs_the_suite_with_the_readme_line():
    readme_line = _block("### Installing it", "sh").strip()
    assert readme_line.startswith("python -m pip install") and "@ git+" in readme_line
    workflow = (ROOT / "docs" / "examples" / "github-actions.yml").read_text(encoding="utf-8")
    installs = [
        line.split("run:", 1)[1].strip() for line in workflow.splitlines() if "run: python -m pip install" in line
    ]
    assert installs and all(line == readme_line for line in installs), installs
    assert "pip install realtimekit-conformance\n" not in workflow  # not on PyPI


def test_secrets_are_ignored_by_git():
    assert "secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_init_from_a_serve_ready_line_writes_a_working_configuration(tmp_path: Path):
    text = "some log line\n" + json.dumps(READY) + "\n"
    written = init.write(init.from_serve(init.read_ready_line(text)), tmp_path)
    assert (tmp_path / "secrets" / ".gitignore").read_text() == "*\n"
    assert oct((tmp_path / "secrets").stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in written[1:])
    toml = (tmp_path / "target.toml").read_text()
    assert "canary" not in toml  # tokens live in secrets/, never in the TOML
    config = load_config(tmp_path / "target.toml", {}, {})  # token paths relative to the TOML
    assert config.tokens.admin == "canary-admin-0001" and config.tokens.readonly == "canary-ro-0001"
    assert config.time.control == "test-clock" and "classroom" not in config.target.profiles
    assert config.target.base_url == READY["base_url"]
    with pytest.raises(ConfigError, match="exists"):
        init.write(init.from_serve(READY), tmp_path)


def test_init_claims_only_what_can_reach_a_verdict(tmp_path: Path):
    no_clock = init.from_serve({**READY, "test_clock": False})
    assert no_clock.values["time.real_time_budget_seconds"] >= 61  # LEAVE-04 waits out 60 s
    assert no_clock.values["limits.check_timeout_seconds"] > no_clock.values["time.real_time_budget_seconds"]
    with pytest.raises(ConfigError, match="test clock"):
        init.from_serve({**READY, "test_clock": False}, classroom=True)
    assert "classroom" in init.from_serve(READY, classroom=True).values["target.profiles"]
    rest_only = init.from_base_url("https://x.test/client/v4", "a", "b", None, False, {})
    assert rest_only.values["target.profiles"] == ["api"] and any("admin-token" in n for n in rest_only.notes)
    data = tomllib.loads(init.render(rest_only.values))
    assert "webhook_public_key_url" not in data["target"] and "realtime_url" not in data["target"]


def test_init_paces_a_loopback_serve_as_what_it_is(tmp_path: Path):
    """serve on this machine: the reference's known timing and its rate limit (none, or the
    one its ready line names); anywhere else the defaults, sized for an unknown server."""
    local = init.from_serve({**READY, "requests_per_10s": None}).values
    assert local["limits.event_timeout_seconds"] == 3 and local["limits.webhook_retry_seconds"] == 10
    assert local["limits.requests_per_10s"] == init.UNLIMITED_BUDGET
    assert init.from_serve({**READY, "requests_per_10s": 250}).values["limits.requests_per_10s"] == 200
    remote = init.from_serve({**READY, "base_url": "https://rtk.example.test/client/v4"}).values
    assert "limits.event_timeout_seconds" not in remote and "limits.webhook_retry_seconds" not in remote
    init.write(init.from_serve(READY), tmp_path)
    config = load_config(tmp_path / "target.toml", {}, {})
    assert (config.limits.event_timeout_seconds, config.limits.requests_per_10s) == (3, init.UNLIMITED_BUDGET)


def test_init_on_the_command_line_reads_the_ready_line_from_stdin(tmp_path: Path):
    done = subprocess.run(
        [*CLI, "init", "--from-serve", "-", "--dir", str(tmp_path)],
        input=json.dumps(READY) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "next: conformance run --config" in done.stdout and "canary" not in done.stdout
    assert (tmp_path / "secrets" / "other-token").read_text().strip() == "canary-other-0001"


def _walk_through() -> list[str]:
    start = README.index("<!-- walk-through -->")
    block = README[start : README.index("<!-- /walk-through -->")]
    return [line for line in block.splitlines() if line.startswith("conformance ")]


@pytest.mark.background
@pytest.mark.slow(150)
@pytest.mark.timeout(1500)  # a full run against an external target: every phase, one test process
def test_the_readme_walk_through_reaches_conformant(tmp_path: Path):
    """Exactly the README's lines, in a fresh folder; only the port becomes a free one."""
    serve_line, *steps = _walk_through()
    assert serve_line.endswith("> ready.json &") and len(steps) == 2
    serve_args = shlex.split(serve_line.removesuffix("> ready.json &").replace("--port 8787", "--port 0"))
    env = isolated_env(PYTHONPATH=str(ROOT))
    # `> ready.json &`: the server's stdout is that file, as in the shell.
    with Served([*CLI, *serve_args[1:]], env=env, cwd=tmp_path, stdout=tmp_path / "ready.json"):
        for line in steps:
            done = subprocess.run(
                [*CLI, *shlex.split(line)[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500
            )
            assert done.returncode == 0, f"{line}:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    closing = done.stdout.strip().splitlines()[-1]
    assert closing.startswith("CONFORMANT"), done.stdout[-4000:]


@pytest.mark.slow(15)
def test_a_built_wheel_in_a_fresh_venv_gives_a_working_conformance(tmp_path: Path):
    """The wheel route of the CI example. Dependencies come from this venv (--system-site-packages,
    --no-deps): what is tested is the suite's own packaging and entry point, fast."""
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), "."]
    built = subprocess.run(build, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("realtimekit_conformance-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    helped = subprocess.run(
        [str(venv / "bin" / "conformance"), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and "init" in helped.stdout, helped.stdout + helped.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import conformance; print(conformance.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert str(venv) in where.stdout, where.stdout  # the wheel's copy, not the checkout


# -- the documents answer what an implementer would otherwise guess (issue 14, point 12) --------

DOCUMENTS = ("README.md", "docs/bridge-protocol.md", "docs/test-clock.md", "openapi/realtime-protocol.md")
# A setting named in backticks, then within the same clause "<N> s" (the default it states).
_STATED = re.compile(r"`((?:limits|time)\.\w+)`[^`.;]{0,40}?\b(\d+(?:\.\d+)?) s\b")


def _stated_defaults() -> list[tuple[str, str, float]]:
    found = []
    for name in DOCUMENTS:
        text = " ".join((ROOT / name).read_text(encoding="utf-8").split())
        found += [(name, key, float(value)) for key, value in _STATED.findall(text)]
    return found


def test_every_timeout_the_documents_state_is_the_configurations_default():
    from conformance.config import RunConfig

    defaults = RunConfig()
    stated = _stated_defaults()
    keys = {key for _, key, _ in stated}
    assert {"limits.request_timeout_seconds", "limits.event_timeout_seconds"} <= keys, stated
    for name, key, value in stated:
        section, field = key.split(".")
        assert getattr(getattr(defaults, section), field) == value, f"{name} says {key} is {value:g} s"


def test_the_fixed_deadlines_the_documents_state_are_the_codes():
    from conformance.drivers import bridge
    from conformance.reference import hub

    bridge_doc = " ".join((ROOT / "docs" / "bridge-protocol.md").read_text().split())
    assert f"within **{bridge.HELLO_TIMEOUT:g} s**" in bridge_doc
    assert f"waits up to **{bridge.SHUTDOWN_GRACE:g} s**" in bridge_doc
    # A participant's request (websocket or bridge) waits as long as one client event does.
    from conformance.harness import Harness

    assert "make_driver(self.config, self.evidence, self.event_timeout)" in inspect.getsource(Harness)
    assert "request has the run's event timeout (`limits.event_timeout_seconds`" in bridge_doc
    protocol = (ROOT / "openapi" / "realtime-protocol.md").read_text()
    assert f"no `join` within {hub.JOIN_TIMEOUT_SECONDS:g} s" in protocol


def test_the_protocol_document_answers_the_silences():
    protocol = (ROOT / "openapi" / "realtime-protocol.md").read_text()
    section = protocol[protocol.index("## Where an implementation may choose") :]
    for question in (
        "after `leave`",
        "`kick` refused for several reasons",
        "a `type` but no `id`",
        "unknown `type` before `join`",
        "join deadline",
        "two sockets",
        "participant is deleted",
        "preset is changed",
        "kicked_participants_count",
    ):
        row = next((line for line in section.splitlines() if question in line), None)
        assert row is not None, question
        assert "**either" in row, f"{question}: say either, or which answer a check needs"
    clock = (ROOT / "docs" / "test-clock.md").read_text()
    for fact in ("POST {origin}/_conformance/clock/advance", "Bearer", '{"seconds": 61}', "bodiless `204`", "ERROR"):
        assert fact in clock, fact
