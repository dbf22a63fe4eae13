"""The bundled reference answers inside Cloudflare's own schemas (issue 11, point 5).

A plain schemathesis run of Cloudflare's official description, no suite wrapper: the paths
the reference implements, checks `not_a_server_error` and `response_schema_conformance`,
phases examples, coverage and fuzzing, against `conformance serve`. It must find nothing.
The budget (examples per operation) is small so the test stays under a minute on 2 cores;
the same command with `--max-examples 10 --seed 7` ran 5,612 cases clean.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis.core.failures import Failure, FailureGroup

from tests.processes import isolated_env, serve

OFFICIAL = Path(__file__).resolve().parent.parent / "openapi" / "cloudflare-realtimekit-openapi.yaml"
APP = "/accounts/{account_id}/realtime/kit/{app_id}"
# Exactly the official paths the reference serves (not mute, poll, livestreams, chat, ...).
IMPLEMENTED = (
    r"/realtime/kit/\{app_id\}/("
    r"meetings(/\{meeting_id\}(/participants(/\{participant_id\}(/token)?)?|/active-session(/kick(-all)?)?)?)?"
    r"|sessions(/\{session_id\}(/participants)?)?"
    r"|recordings(/\{recording_id\}|/active-recording/\{meeting_id\})?"
    r"|presets(/\{preset_id\})?"
    r"|webhooks(/\{webhook_id\})?"
    r")$"
)
EXAMPLES = 4
SEED = 7
RUN_SECONDS = 150
TOKEN_VARIABLE = "RTKC_OFFICIAL_RUN_TOKEN"


@pytest.fixture(scope="module")
def reference() -> Iterator[dict[str, str]]:
    """`conformance serve --port 0` with a token chosen here; its ready line (no token in it)."""
    token = "rtka_" + secrets.token_urlsafe(24)
    with serve(env=isolated_env(RTK_REFERENCE_ADMIN_TOKEN=token)) as server:
        ready = server.ready
        yield {
            "base_url": ready["base_url"],
            "account_id": ready["account_id"],
            "app_id": ready["app_id"],
            "token": token,
        }


def config(reference: dict[str, str]) -> str:
    return "\n".join(
        [
            "[auth.openapi.api_token]",
            f'bearer = "${{{TOKEN_VARIABLE}}}"',  # the token reaches schemathesis only by environment
            "",
            "[parameters]",
            f'"path.account_id" = {json.dumps(reference["account_id"])}',
            f'"path.app_id" = {json.dumps(reference["app_id"])}',
            "",
        ]
    )


@pytest.mark.slow(60)
@pytest.mark.timeout(RUN_SECONDS + 60)  # the run's own deadline, then room to report it
def test_plain_schemathesis_run_of_the_official_description_finds_nothing(
    reference: dict[str, str], tmp_path: Path
) -> None:
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config(reference), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        str(OFFICIAL),
        "--url",
        reference["base_url"],
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--include-path-regex",
        IMPLEMENTED,
        "--generation-database",
        "none",
        "--no-color",
    ]
    env = {
        **os.environ,
        TOKEN_VARIABLE: reference["token"],
        "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / ".hypothesis"),
    }
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_SECONDS, check=False
    )
    output = done.stdout + done.stderr
    assert reference["token"] not in output
    assert done.returncode == 0, output[-6000:]
    assert "Tested: 35" in output, output[-3000:]  # every implemented official operation ran
    assert " passed" in output and "failures" not in output.lower(), output[-3000:]


def official_operation(path: str, method: str) -> schemathesis.schemas.APIOperation:
    return schemathesis.openapi.from_path(str(OFFICIAL))[APP + path][method]


def _response(status: int, body: object) -> schemathesis.Response:
    answer = httpx.Response(status, json=body, request=httpx.Request("GET", "http://reference.invalid/"))
    answer.elapsed = timedelta(0)  # schemathesis reads it; set when a real response is read
    return schemathesis.Response.from_any(answer)


@pytest.mark.parametrize(
    "data",
    [
        {"title": None},  # the reference's old answer for a meeting without a title
        {"record_on_start": None},
        {"recording_config": {"storage_config": {"type": "aws", "access_key": "AK"}}},  # write-only, answered
    ],
    ids=["null-title", "null-boolean", "write-only-echoed"],
)
def test_the_run_can_fail_on_what_the_reference_used_to_answer(data: dict[str, object]) -> None:
    meeting = {
        "id": "0b6c1f8e-8d0e-4c6b-9b8e-2d1f4a3c5e7a",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        **data,
    }
    operation = official_operation("/meetings/{meeting_id}", "GET")
    with pytest.raises((Failure, FailureGroup)):
        operation.validate_response(_response(200, {"success": True, "data": meeting}))
    good = {k: v for k, v in meeting.items() if k in ("id", "created_at", "updated_at")}
    operation.validate_response(_response(200, {"success": True, "data": good}))


def test_a_preset_without_recorder_type_is_outside_cloudflares_schema() -> None:
    from conformance.reference.preset_defaults import DEFAULT_CONFIG, DEFAULT_UI, whole

    preset = {
        "id": "0b6c1f8e-8d0e-4c6b-9b8e-2d1f4a3c5e7a",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "name": "p",
        "config": DEFAULT_CONFIG,
        "ui": DEFAULT_UI,
        "permissions": whole("permissions", None),
    }
    operation = official_operation("/presets/{preset_id}", "GET")
    operation.validate_response(_response(200, {"success": True, "data": preset}))
    lacking = {**preset, "permissions": {k: v for k, v in preset["permissions"].items() if k != "recorder_type"}}
    with pytest.raises((Failure, FailureGroup)):
        operation.validate_response(_response(200, {"success": True, "data": lacking}))
