"""Loading the target configuration: precedence, secrets, typos."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.catalogue import PROFILES
from conformance.config import (
    _SETTABLE_KEYS,
    DOCUMENTED_PROFILES,
    EXAMPLE_TOML,
    load_config,
)
from conformance.errors import ConfigError

TOKEN = "admin-token-0123456789"
BASE_ENV = {
    "RTKC_BASE_URL": "http://127.0.0.1:8787/client/v4",
    "RTKC_ACCOUNT_ID": "acc",
    "RTKC_APP_ID": "app",
    "RTKC_ADMIN_TOKEN": TOKEN,
}


def write(tmp_path: Path, text: str, name: str = "rtkc.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_target() -> None:
    config = load_config(None, {}, {})
    assert config.target.base_url is None
    assert config.target.profiles == PROFILES  # the embedded reference claims all it implements
    assert config.limits.requests_per_10s == 200
    assert config.limits.event_timeout_seconds == 5.0
    assert config.time.control == "none"
    assert config.time.host_grace_seconds == 900.0
    assert config.webhooks.listen == "127.0.0.1:0"
    assert config.webhooks.public_url is None
    assert config.driver.kind == "websocket"
    assert config.reports_dir == Path("reports")
    assert re.fullmatch(r"rtkc-\d{14}-[0-9a-f]{6}", config.run_id)
    assert config.secrets() == []


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [target]
        base_url = "http://file.test/client/v4"
        account_id = "acc-file"
        app_id = "app-file"
        [limits]
        request_timeout_seconds = 7
        check_timeout_seconds = 30
        """,
    )
    env = {"RTKC_ADMIN_TOKEN": TOKEN, "RTKC_BASE_URL": "http://env.test/client/v4/"}
    overrides = {"target.base_url": "http://flag.test/client/v4", "limits.check_timeout_seconds": 9}

    config = load_config(path, env, overrides)
    assert config.target.base_url == "http://flag.test/client/v4"
    assert config.limits.check_timeout_seconds == 9
    assert config.limits.request_timeout_seconds == 7  # file beats default
    assert config.target.account_id == "acc-file"
    assert config.limits.run_deadline_seconds == 1800  # default

    config = load_config(path, env, {"target.base_url": None})  # None = flag not given
    assert config.target.base_url == "http://env.test/client/v4"  # trailing slash stripped

    config = load_config(path, {"RTKC_ADMIN_TOKEN": TOKEN}, {})
    assert config.target.base_url == "http://file.test/client/v4"


def test_environment_variables(tmp_path: Path) -> None:
    env = {
        **BASE_ENV,
        "RTKC_REALTIME_URL": "wss://rt.example.test/ws",
        "RTKC_PROFILES": "api, webhooks,api",
        "RTKC_HOST_PRESET": "host",
        "RTKC_PARTICIPANT_PRESET": "",  # empty = unset: the suite makes its own
        "RTKC_DRIVER": "bridge",
        "RTKC_BRIDGE_COMMAND": "node bridge.js --name 'two words'",
        "RTKC_WEBHOOK_LISTEN": "0.0.0.0:8099",
        "RTKC_WEBHOOK_PUBLIC_URL": "https://hooks.example.test/",
        "RTKC_TIME_CONTROL": "test-clock",
        "RTKC_OTHER_ACCOUNT_ID": "acc2",
        "RTKC_OTHER_APP_ID": "app2",
        "RTKC_OTHER_TOKEN": "other-token-123456",
    }
    config = load_config(None, env, {})
    assert config.target.realtime_url == "wss://rt.example.test/ws"
    assert config.target.profiles == ("api", "webhooks")
    assert config.presets.host == "host"
    assert config.presets.participant is None
    assert config.driver.kind == "bridge"
    assert config.driver.bridge_command == ("node", "bridge.js", "--name", "two words")
    assert (config.webhooks.listen_host, config.webhooks.listen_port) == ("0.0.0.0", 8099)
    assert config.webhooks.public_url == "https://hooks.example.test"
    assert config.time.control == "test-clock"
    assert config.other_account.complete
    assert config.target.webhook_public_key_url == ("http://127.0.0.1:8787/.well-known/webhooks.json")
    assert config.api_origin == "http://127.0.0.1:8787"
    assert sorted(config.secrets()) == sorted([TOKEN, "other-token-123456"])


def test_token_files_from_environment_toml_and_flags(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "admin").write_text("file-admin-token\n")
    (tmp_path / "readonly").write_text("  env-readonly-token \n")
    (tmp_path / "flag-admin").write_text("flag-admin-token")
    path = write(tmp_path, '[tokens]\nadmin_file = "secrets/admin"\n')
    env = {k: v for k, v in BASE_ENV.items() if k != "RTKC_ADMIN_TOKEN"}
    env["RTKC_READONLY_TOKEN_FILE"] = str(tmp_path / "readonly")

    # Relative paths in the TOML file are relative to the file, not the working dir.
    config = load_config(path, env, {})
    assert config.tokens.admin == "file-admin-token"
    assert config.tokens.readonly == "env-readonly-token"

    env_literal = {**env, "RTKC_ADMIN_TOKEN": "env-admin-token"}
    assert load_config(path, env_literal, {}).tokens.admin == "env-admin-token"

    flagged = load_config(path, env_literal, {"tokens.admin_file": str(tmp_path / "flag-admin")})
    assert flagged.tokens.admin == "flag-admin-token"


def test_token_file_problems_are_named(tmp_path: Path) -> None:
    env = {**BASE_ENV, "RTKC_READONLY_TOKEN_FILE": str(tmp_path / "nope")}
    with pytest.raises(ConfigError, match=r"RTKC_READONLY_TOKEN_FILE.*cannot read"):
        load_config(None, env, {})
    (tmp_path / "empty").write_text("\n")
    env = {**BASE_ENV, "RTKC_READONLY_TOKEN_FILE": str(tmp_path / "empty")}
    with pytest.raises(ConfigError, match="is empty"):
        load_config(None, env, {})
    env = {**BASE_ENV, "RTKC_ADMIN_TOKEN_FILE": str(tmp_path / "empty")}
    with pytest.raises(ConfigError, match="both RTKC_ADMIN_TOKEN and RTKC_ADMIN_TOKEN_FILE"):
        load_config(None, env, {})


def test_literal_token_in_toml_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f'[tokens]\nadmin = "{TOKEN}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, BASE_ENV, {})
    message = str(info.value)
    assert "committed" in message and "RTKC_ADMIN_TOKEN" in message and "admin_file" in message
    assert TOKEN not in message

    path = write(tmp_path, '[other_account]\ntoken = "xyz-123456"\n')
    with pytest.raises(ConfigError, match="RTKC_OTHER_TOKEN"):
        load_config(path, BASE_ENV, {})


def test_token_on_the_command_line_is_refused() -> None:
    with pytest.raises(ConfigError, match="set RTKC_ADMIN_TOKEN") as info:
        load_config(None, BASE_ENV, {"tokens.admin": "cli-token-123456"})
    assert "cli-token-123456" not in str(info.value)


def test_admin_token_required_with_a_target() -> None:
    env = {k: v for k, v in BASE_ENV.items() if k != "RTKC_ADMIN_TOKEN"}
    with pytest.raises(ConfigError, match="RTKC_ADMIN_TOKEN"):
        load_config(None, env, {})


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[target]\nbase_ulr = "http://x/client/v4"\n', r"\[target\] base_ulr.*'target.base_url'"),
        ("[limit]\nrequests_per_10s = 5\n", r"unknown table \[limit\].*'limits'"),
        ('runid = "x"\n', r"unknown key runid"),
    ],
)
def test_unknown_keys_are_refused(tmp_path: Path, toml: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, toml), BASE_ENV, {})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'limits\.timeout'"):
        load_config(None, BASE_ENV, {"limits.timeout": 3})


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"RTKC_TIME_CONTROL": "fast"}, "RTKC_TIME_CONTROL.*test-clock"),
        ({"RTKC_PROFILES": "api,video"}, "unknown profile.*video"),
        ({"RTKC_BASE_URL": "ftp://x"}, "RTKC_BASE_URL.*http"),
        ({"RTKC_REALTIME_URL": "http://x"}, "RTKC_REALTIME_URL.*ws://"),
        ({"RTKC_WEBHOOK_LISTEN": "8080"}, "host:port"),
        ({"RTKC_DRIVER": "bridge"}, "bridge_command"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(None, {**BASE_ENV, **env}, {})


def test_bad_numbers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"request_timeout_seconds.*above 0"):
        load_config(None, BASE_ENV, {"limits.request_timeout_seconds": 0})
    with pytest.raises(ConfigError, match="whole number"):
        load_config(write(tmp_path, "[limits]\nrequests_per_10s = 2.5\n"), BASE_ENV, {})
    with pytest.raises(ConfigError, match="at least 0"):
        load_config(None, BASE_ENV, {"time.real_time_budget_seconds": -1})


def test_example_toml_parses_and_documents_every_key(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE_TOML), {"RTKC_ADMIN_TOKEN": TOKEN}, {})
    assert config.target.base_url == "http://127.0.0.1:8787/client/v4"
    assert config.target.profiles == DOCUMENTED_PROFILES  # classroom is opt-in
    for key in _SETTABLE_KEYS:
        assert key.rpartition(".")[2] in EXAMPLE_TOML, key


def test_redacted_holds_no_secret_and_is_json() -> None:
    env = {
        **BASE_ENV,
        "RTKC_READONLY_TOKEN": "readonly-token-98765",
        "RTKC_OTHER_TOKEN": "other-token-55555",
    }
    config = load_config(None, env, {"run_id": "run-1"})
    text = json.dumps(config.redacted())
    for secret in config.secrets():
        assert secret not in text
        assert secret not in repr(config)
    redacted = config.redacted()
    assert redacted["tokens"] == {
        "admin": "[REDACTED]",
        "readonly": "[REDACTED]",
        "no_permission": "[unset]",
    }
    assert redacted["other_account"]["token"] == "[REDACTED]"
    assert redacted["run_id"] == "run-1"
    assert redacted["target"]["base_url"] == "http://127.0.0.1:8787/client/v4"
