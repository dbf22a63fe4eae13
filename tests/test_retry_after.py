"""One reading of Retry-After (conformance.request_budget.retry_after_seconds) for the suite's
client and the fuzz phase's hooks; each names only how long it can afford to wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from conformance.fuzz import safety
from conformance.request_budget import DEFAULT_RETRY_AFTER_SECONDS, retry_after_seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0),
        ("2", 2),
        (" 2.5 ", 2.5),
        ("3600", 30),  # capped
        ("-5", 0),
        (None, DEFAULT_RETRY_AFTER_SECONDS),
        ("", DEFAULT_RETRY_AFTER_SECONDS),
        ("soon", DEFAULT_RETRY_AFTER_SECONDS),
        ("nan", DEFAULT_RETRY_AFTER_SECONDS),
        ("inf", DEFAULT_RETRY_AFTER_SECONDS),
    ],
)
def test_delta_seconds(value: str | None, seconds: float) -> None:
    assert retry_after_seconds(value, cap=30) == seconds


def test_http_dates() -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=1), usegmt=True)
    assert retry_after_seconds(past, cap=30) == 0
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 15 < retry_after_seconds(future, cap=30) <= 20
    assert retry_after_seconds(future, cap=5) == 5


def test_the_fuzz_phase_reads_it_the_same_way_with_its_own_cap() -> None:
    for value in ("2", "soon", "nan", None, "3600"):
        assert safety.retry_after_seconds(value) == retry_after_seconds(value, safety.MAX_RETRY_AFTER_SECONDS)
    assert safety.retry_after_seconds("1000") == safety.MAX_RETRY_AFTER_SECONDS
