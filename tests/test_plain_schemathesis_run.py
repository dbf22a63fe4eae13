"""Issue 11, point 7: the suite's own description passes a plain schemathesis run against the
bundled reference. No suite wrapper, no hooks: `conformance serve`, then `schemathesis run
openapi/realtimekit.yaml --checks all`, with only what any user must give it (the reference's
account and app ids as path parameters, the admin token) in a config file.

A failure here is the reference answering outside the description (or the description
promising what RealtimeKit does not); the output names the operation and a curl to replay it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.resources import read_yaml
from tests.processes import isolated_env, serve

ROOT = Path(__file__).parents[1]
DESCRIPTION = ROOT / "openapi" / "realtimekit.yaml"
RUN_SECONDS = 150  # measured 22 s idle, 61 s on 2 busy shared cores


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[dict[str, Any]]:
    token = "h6-" + secrets.token_urlsafe(16)
    with serve("--db", str(tmp_path / "ref.sqlite3"), env=isolated_env(RTK_REFERENCE_ADMIN_TOKEN=token)) as server:
        assert server.ready["api_token"] == token
        yield server.ready


def config_file(info: dict[str, Any], where: Path) -> Path:
    """What any user tells schemathesis: the ids, the token (read from the environment)."""
    path = where / "schemathesis.toml"
    path.write_text(
        "\n".join(
            [
                "[generation]",
                'database = "none"',  # no example database steering later runs
                "",
                "[cache]",
                "enabled = false",
                "",
                "[warnings]",
                'fail-on = ["missing_auth"]',  # every request refused as unauthenticated tests nothing
                "",
                "[auth.openapi.bearerAuth]",
                'bearer = "${RTK_API_TOKEN}"',
                "",
                "[parameters]",
                f'"path.account_id" = {json.dumps(info["account_id"])}',
                f'"path.app_id" = {json.dumps(info["app_id"])}',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def operation_count() -> int:
    document = read_yaml(DESCRIPTION)
    methods = {"get", "put", "post", "patch", "delete"}
    return sum(1 for item in document["paths"].values() for method in item if method in methods)


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    return [str(script)] if script.exists() else [sys.executable, "-m", "schemathesis.cli"]


def failures_section(output: str) -> str:
    start = output.find("FAILURES")
    return output[start:] if start >= 0 else output[-4000:]


@pytest.mark.slow(45)
@pytest.mark.timeout(RUN_SECONDS + 60)  # the run's own deadline, then room to report it
def test_plain_schemathesis_run_of_the_suite_description_finds_nothing(reference, tmp_path):
    config = config_file(reference, tmp_path)
    run = subprocess.run(
        [
            *schemathesis_command(),
            "--config-file",
            str(config),
            "run",
            str(DESCRIPTION),
            "--url",
            reference["base_url"],
            "--checks",
            "all",
            "--max-examples",
            "5",
            "--seed",
            "7",
            "--phases",
            "examples,coverage,fuzzing,stateful",
        ],
        cwd=tmp_path,  # anything schemathesis writes lands here, not in the checkout
        env={**os.environ, "RTK_API_TOKEN": reference["api_token"]},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    output = run.stdout + run.stderr
    assert reference["api_token"] not in output
    operations = operation_count()
    assert f"Selected: {operations}/{operations}" in output and f"Tested: {operations}" in output, output[-2000:]
    assert run.returncode == 0, failures_section(output)
