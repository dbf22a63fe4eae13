"""No secret in any report: a run against `conformance serve` with canary tokens, then every
byte under reports/ and everything the run printed is searched for each canary and for any
participant token the target issued (the reference's participant tokens start `rtkp_`).

The target runs with a fault so that checks fail: failures are where the HTML inlines the
most evidence (requests, responses, client events, webhook deliveries).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import isolated_env, serve

CANARIES = {
    "RTK_REFERENCE_ADMIN_TOKEN": "canaryADMIN7f3e9a1c5b2d",
    "RTK_REFERENCE_READONLY_TOKEN": "canaryREADONLY4d8b2f6a0e",
    "RTK_REFERENCE_NO_PERMISSION_TOKEN": "canaryNOPERM9c1e5a7b3f",
    "RTK_REFERENCE_OTHER_TOKEN": "canaryOTHER2b6f0d4e8a1c",
}
BROKER_CANARY = "canaryBROKER5e9a3c7f1b0d"
PARTICIPANT_PREFIX = b"rtkp_"


@pytest.fixture
def target(tmp_path: Path):
    args = ("--test-clock", "--db", str(tmp_path / "ref.sqlite3"), "--fault", "ended_says_left")
    with serve(*args, env=isolated_env(**CANARIES)) as server:
        yield server.ready


@pytest.mark.slow(60)
@pytest.mark.timeout(600)
def test_no_token_reaches_any_report_or_output(target: dict, tmp_path: Path):
    readonly_file = tmp_path / "readonly-token"
    readonly_file.write_text(CANARIES["RTK_REFERENCE_READONLY_TOKEN"] + "\n")
    env = isolated_env(
        **{
            "RTKC_BASE_URL": target["base_url"],
            "RTKC_ACCOUNT_ID": target["account_id"],
            "RTKC_APP_ID": target["app_id"],
            "RTKC_REALTIME_URL": target["realtime_url"],
            "RTKC_WEBHOOK_PUBLIC_KEY_URL": target["webhook_public_key_url"],
            "RTKC_TIME_CONTROL": "test-clock",
            "RTKC_ADMIN_TOKEN": CANARIES["RTK_REFERENCE_ADMIN_TOKEN"],
            "RTKC_READONLY_TOKEN_FILE": str(readonly_file),  # a token from a file takes the same care
            "RTKC_NO_PERMISSION_TOKEN": CANARIES["RTK_REFERENCE_NO_PERMISSION_TOKEN"],
            "RTKC_OTHER_ACCOUNT_ID": target["other_account"]["account_id"],
            "RTKC_OTHER_APP_ID": target["other_account"]["app_id"],
            "RTKC_OTHER_TOKEN": CANARIES["RTK_REFERENCE_OTHER_TOKEN"],
            "RTKC_PACT_BROKER_TOKEN": BROKER_CANARY,
            # What is searched is the evidence every check of every phase writes, not how much
            # of it or its verdicts: a small fuzz budget, no rate limit (the loopback reference
            # has none), and a 1 s event timeout, so each "nothing happens" window lasts 2 s, not
            # 10 (an event late on a busy machine only adds a failure, hence more evidence).
            "RTKC_FUZZ_EXAMPLES": "2",
            "RTKC_REQUESTS_PER_10S": "5000",
            "RTKC_EVENT_TIMEOUT_SECONDS": "1",
            "RTKC_WEBHOOK_RETRY_SECONDS": "10",
        }
    )
    assert target["api_token"] == CANARIES["RTK_REFERENCE_ADMIN_TOKEN"]  # the target really uses the canaries
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", "--reports-dir", str(reports), "--run-id", "canary"],
        capture_output=True,
        timeout=540,
        env=env,
        check=False,
    )
    assert done.returncode == 1, (done.stdout[-3000:] + done.stderr[-3000:]).decode(errors="replace")

    run_dir = reports / "canary"
    files = sorted(p for p in reports.rglob("*") if p.is_file())
    names = {p.relative_to(run_dir).as_posix() for p in files if run_dir in p.parents}
    assert {"results.jsonl", "results.json", "junit.xml", "report.html", "evidence/exchanges.har"} <= names
    outputs = {str(p.relative_to(reports)): p.read_bytes() for p in files}
    outputs["stdout"], outputs["stderr"] = done.stdout, done.stderr
    secrets = [*CANARIES.values(), BROKER_CANARY]
    for where, data in outputs.items():
        for secret in secrets:
            assert secret.encode() not in data, f"{secret} found in {where}"
        assert PARTICIPANT_PREFIX not in data, f"a participant token (rtkp_…) found in {where}"

    # The search looked at something real: tokens were sent and issued, and show as redacted.
    entries = json.loads(outputs["canary/evidence/exchanges.har"])["log"]["entries"]
    sent = [h["value"] for e in entries for h in e["request"]["headers"] if h["name"].lower() == "authorization"]
    assert sent and set(sent) == {"[REDACTED]"}
    issued = [
        e
        for e in entries
        if e["request"]["method"] == "POST"
        and e["request"]["url"].endswith("/participants")
        and e["response"]["status"] == 201
    ]
    assert issued and all('"token":"[REDACTED]"' in e["response"]["content"]["text"] for e in issued)
    page = outputs["canary/report.html"].decode()
    assert "NOT CONFORMANT" in page and "authorization: [redacted]" in page.lower()
