"""The error tree's contract with reports, and what the Redactor removes."""

from __future__ import annotations

import pytest

from conformance.errors import (
    CheckNotRunnable,
    ConfigError,
    ConformanceError,
    ImplementationFailed,
    SuiteCouldNotRun,
    TargetTimeout,
    TargetUnreachable,
    UnexpectedResponse,
)
from conformance.redaction import REDACTED, Redactor

TOKEN = "tok_live_0123456789abcdef"


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ConfigError, TargetUnreachable, CheckNotRunnable])
def test_suite_errors_are_outcome_error_exit_2(cls: type[ConformanceError]) -> None:
    err = cls("x")
    assert isinstance(err, SuiteCouldNotRun)
    assert not isinstance(err, AssertionError)
    assert (err.outcome, err.exit_code) == ("error", 2)


@pytest.mark.parametrize("cls", [UnexpectedResponse, TargetTimeout])
def test_implementation_failures_are_assertions_exit_1(cls: type[ConformanceError]) -> None:
    err = cls("x")
    assert isinstance(err, ImplementationFailed)
    assert isinstance(err, AssertionError)  # pytest shows these as failures, not errors
    assert (err.outcome, err.exit_code) == ("fail", 1)


def test_message_is_one_line_and_names_the_evidence() -> None:
    err = UnexpectedResponse("expected 200\n  got 500", exchange_id="x00042")
    assert str(err) == "expected 200 got 500 [evidence x00042]"
    assert str(ConfigError("no token")) == "no token"


# -- redaction ----------------------------------------------------------------------------


def test_short_and_empty_secrets_are_ignored() -> None:
    r = Redactor(["", "abc", None])  # type: ignore[list-item]
    assert r.secrets == ()
    assert r.redact_text("abc def") == "abc def"


def test_text_secrets_are_replaced_everywhere() -> None:
    r = Redactor([TOKEN])
    text = f"Bearer {TOKEN} and again {TOKEN}!"
    assert r.redact_text(text) == f"Bearer {REDACTED} and again {REDACTED}!"


def test_percent_encoded_secret_is_replaced() -> None:
    r = Redactor(["a/b+c=d e"])
    assert r.redact_text("?token=a%2Fb%2Bc%3Dd%20e") == f"?token={REDACTED}"


def test_credential_headers_are_blanked_whatever_the_case() -> None:
    r = Redactor([TOKEN])
    out = r.redact_headers(
        {
            "Authorization": "Bearer something-unknown",
            "COOKIE": "session=1",
            "x-auth-key": "k",
            "X-Trace": f"id-{TOKEN}",
            "content-type": "application/json",
        }
    )
    assert out == {
        "Authorization": REDACTED,
        "COOKIE": REDACTED,
        "x-auth-key": REDACTED,
        "X-Trace": f"id-{REDACTED}",
        "content-type": "application/json",
    }


def test_json_credential_keys_and_substrings_are_redacted_in_a_copy() -> None:
    r = Redactor([TOKEN])
    body = {
        "success": True,
        "data": {
            "token": "participant-jwt-value",
            "refresh_token": "r-123456",
            "Authorization": "x",
            "note": f"made with {TOKEN}",
            "items": [{"api_token": "zzz"}, "plain"],
            "token_count": 3,
            "missing_token": None,
        },
    }
    out = r.redact_json(body)
    assert out["data"] == {
        "token": REDACTED,
        "refresh_token": REDACTED,
        "Authorization": REDACTED,
        "note": f"made with {REDACTED}",
        "items": [{"api_token": REDACTED}, "plain"],
        "token_count": 3,
        "missing_token": None,  # a null token is a finding, not a secret
    }
    assert body["data"]["token"] == "participant-jwt-value"  # original untouched


def test_learning_makes_later_occurrences_redacted() -> None:
    r = Redactor()
    r.redact_json({"token": "participant-jwt-value"}, learn=True)
    assert r.redact_text("wss://x/?authToken=participant-jwt-value") == (f"wss://x/?authToken={REDACTED}")


def test_longer_secret_containing_a_shorter_one_is_removed_whole() -> None:
    r = Redactor(["secret", "secret-and-more"])
    assert r.redact_text("secret-and-more") == REDACTED
