"""The reference's opt-in REST rate limit: RealtimeKit's N requests per account per 10 s."""

from __future__ import annotations

import httpx
import pytest

from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer
from conformance.reference.throttle import AccountRateLimit


def test_the_window_slides() -> None:
    now = [100.0]
    limit = AccountRateLimit(app=None, requests_per_10s=2, clock=lambda: now[0])
    assert limit._admit("a") == 0 and limit._admit("a") == 0
    assert limit._admit("a") == pytest.approx(10.0)  # both slots taken just now
    assert limit._admit("b") == 0  # per account
    now[0] = 105.0
    assert limit._admit("a") == pytest.approx(5.0)
    now[0] = 110.0
    assert limit._admit("a") == 0  # both of the first slots expired at 110
    assert limit._admit("a") == 0
    assert limit._admit("a") == pytest.approx(10.0)


async def test_past_the_limit_the_answer_is_429_with_retry_after_and_the_envelope() -> None:
    with ThreadedServer(ReferenceSettings(requests_per_10s=3)) as srv:
        assert srv.reference is not None and srv.endpoints is not None
        creds = srv.reference.settings.credentials
        headers = {"authorization": f"Bearer {creds.admin_token}"}
        own = f"{srv.endpoints.base_url}/accounts/{creds.account_id}/realtime/kit/{creds.app_id}/meetings"
        other = f"{srv.endpoints.base_url}/accounts/{creds.other_account_id}/realtime/kit/{creds.other_app_id}/meetings"
        async with httpx.AsyncClient(timeout=10) as http:
            statuses = [(await http.get(own, headers=headers)).status_code for _ in range(3)]
            refused = await http.get(own, headers=headers)
            elsewhere = await http.get(other, headers={"authorization": f"Bearer {creds.other_token}"})
            public_key = await http.get(f"{srv.endpoints.origin}/.well-known/webhooks.json")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert refused.json()["success"] is False and refused.json()["error"]["code"] == 429
    assert elsewhere.status_code == 200  # another account has its own budget
    assert public_key.status_code == 200  # outside the accounts API: not counted


async def test_off_by_default() -> None:
    with ThreadedServer(ReferenceSettings()) as srv:
        assert srv.reference is not None and srv.endpoints is not None
        creds = srv.reference.settings.credentials
        url = f"{srv.endpoints.base_url}/accounts/{creds.account_id}/realtime/kit/{creds.app_id}/meetings"
        async with httpx.AsyncClient(timeout=10) as http:
            codes = {
                (await http.get(url, headers={"authorization": f"Bearer {creds.admin_token}"})).status_code
                for _ in range(300)
            }
    assert codes == {200}
