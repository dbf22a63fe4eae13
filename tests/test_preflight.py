"""The preflight: a configured target with a wrong token, account, app or base URL, or no
target at all, stops the run before any check with exit 2 and one line naming what to fix,
within 10 s; a target that is right passes it without a word."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import Always500, answering, closed_port_url
from tests.processes import isolated_env, serve
from tests.test_run import conformance

ADMIN = "preflight-admin-token-0001"
DEADLINE = 10.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`conformance serve` as a user would run it, with a known admin token."""
    db = tmp_path_factory.mktemp("serve") / "ref.sqlite3"
    with serve("--db", str(db), "--test-clock", env=isolated_env(RTK_REFERENCE_ADMIN_TOKEN=ADMIN)) as server:
        yield server.ready


def write_config(tmp_path: Path, base_url: str, account_id: str, app_id: str) -> Path:
    path = tmp_path / "target.toml"
    path.write_text(
        f'reports_dir = "{tmp_path / "reports"}"\n'
        "[target]\n"
        f'base_url = "{base_url}"\n'
        f'account_id = "{account_id}"\n'
        f'app_id = "{app_id}"\n'
        'profiles = ["api"]\n',
        encoding="utf-8",
    )
    return path


def run_preflight(
    config: Path, *args: str, token: str = ADMIN, **extra_env: str
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = conformance(
        "run",
        "--config",
        str(config),
        "--phase",
        "scenarios",
        *args,
        env=isolated_env(RTKC_ADMIN_TOKEN=token, **extra_env),
        timeout=60,
    )
    return done, time.monotonic() - started


def assert_one_line_stop(done: subprocess.CompletedProcess, elapsed: float, *names: str) -> str:
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(output) == 1, output
    line = output[0]
    assert line.startswith("no check ran: "), line
    for name in names:
        assert name in line, line
    assert "FAIL" not in line and "Traceback" not in line
    assert ADMIN not in line and "wrong-token" not in line
    assert elapsed < DEADLINE, f"{elapsed:.1f}s"
    return line


def test_a_wrong_admin_token_names_the_token(served, tmp_path):
    config = write_config(tmp_path, served["base_url"], served["account_id"], served["app_id"])
    done, elapsed = run_preflight(config, token="wrong-token-0002")
    assert_one_line_stop(done, elapsed, "admin token", "RTKC_ADMIN_TOKEN", "401")


def test_a_wrong_account_id_names_the_ids_and_the_url_tried(served, tmp_path):
    config = write_config(tmp_path, served["base_url"], "acc-typo", served["app_id"])
    done, elapsed = run_preflight(config)
    line = assert_one_line_stop(done, elapsed, "'acc-typo'", "account_id", "404")
    assert f"{served['base_url']}/accounts/acc-typo/realtime/kit/{served['app_id']}/meetings" in line


def test_a_wrong_app_id_names_the_ids(served, tmp_path):
    config = write_config(tmp_path, served["base_url"], served["account_id"], "app-typo")
    done, elapsed = run_preflight(config)
    assert_one_line_stop(done, elapsed, "'app-typo'", "app_id", "404")


def test_a_wrong_optional_token_names_that_token(served, tmp_path):
    config = write_config(tmp_path, served["base_url"], served["account_id"], served["app_id"])
    done, elapsed = run_preflight(config, RTKC_READONLY_TOKEN="stale-readonly-0003")
    assert_one_line_stop(done, elapsed, "read-only token", "RTKC_READONLY_TOKEN")
    other = served["other_account"]
    done, elapsed = run_preflight(
        config,
        RTKC_OTHER_ACCOUNT_ID=other["account_id"],
        RTKC_OTHER_APP_ID="other-app-typo",
        RTKC_OTHER_TOKEN=other["api_token"],
    )
    assert_one_line_stop(done, elapsed, "other_account.app_id", "'other-app-typo'")


def test_an_unreachable_port_is_one_line(tmp_path):
    url = closed_port_url()
    done, elapsed = run_preflight(write_config(tmp_path, url, "acc", "app"))
    assert_one_line_stop(done, elapsed, f"cannot reach {url}", "is the target running there?")


def test_a_server_answering_html_200_is_not_a_realtimekit_api(tmp_path):
    class HtmlSite(Always500):
        handler = answering("Site", status=200, content_type="text/html", body=b"<html><body>welcome</body></html>")

    with HtmlSite() as url:
        done, elapsed = run_preflight(write_config(tmp_path, url, "acc", "app"))
    assert_one_line_stop(done, elapsed, f"not a RealtimeKit API at {url}", "text/html")


def test_a_right_configuration_passes_the_preflight(served, tmp_path):
    """Every configured token right: the run goes on to its checks (one, to keep it short)."""
    other = served["other_account"]
    config = write_config(tmp_path, served["base_url"], served["account_id"], served["app_id"])
    done, _ = run_preflight(
        config,
        "--requirement",
        "PERM-04",
        RTKC_READONLY_TOKEN=served["readonly_token"],
        RTKC_NO_PERMISSION_TOKEN=served["no_permission_token"],
        RTKC_OTHER_ACCOUNT_ID=other["account_id"],
        RTKC_OTHER_APP_ID=other["app_id"],
        RTKC_OTHER_TOKEN=other["api_token"],
    )
    assert "no check ran" not in done.stdout + done.stderr
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
