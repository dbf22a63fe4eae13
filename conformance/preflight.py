"""The preflight: before any check, prove the target, the tokens, the account and the app.

A rotated CI secret or a mistyped app id would otherwise show up as thirty FAILs of the
implementation. One harmless list request per configured token settles it first, and a
problem ends the run with exit 2 and one line that names the setting to fix.

What stops the run (PreflightFailed):
- no connection, or no answer within the preflight timeout  -> "cannot reach <base_url>"
- 401 / 403 on a token's own app                            -> names that token's variable
- 404 on the admin token's app                              -> names account_id / app_id
- a 2xx that is not a RealtimeKit envelope, or a redirect   -> "not a RealtimeKit API"

Anything else (5xx, 429, another 4xx) is left for the checks to judge: it is behaviour,
not configuration. Tokens never appear in a message; bodies are redacted before quoting.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from conformance import __version__
from conformance.config import RunConfig
from conformance.errors import PreflightFailed
from conformance.redaction import Redactor
from conformance.request_budget import Limiter, budget_limiter

# The whole preflight must end well inside 10 s, whatever limits.request_timeout_seconds says.
REQUEST_TIMEOUT_CAP = 3.0
TOTAL_DEADLINE = 8.0
BODY_CHARS = 80


@dataclass(frozen=True)
class _Token:
    """One token to try, where its requests go, and what to tell the user to fix."""

    name: str  # "admin token"
    setting: str  # "RTKC_ADMIN_TOKEN (or RTKC_ADMIN_TOKEN_FILE / tokens.admin_file)"
    ids_setting: str  # "target.account_id / target.app_id (RTKC_ACCOUNT_ID / RTKC_APP_ID)"
    value: str
    account_id: str
    app_id: str


def _tokens(config: RunConfig) -> list[_Token]:
    target, tokens, other = config.target, config.tokens, config.other_account
    ids = "target.account_id / target.app_id (RTKC_ACCOUNT_ID / RTKC_APP_ID)"
    found = [
        _Token(
            "admin token",
            "RTKC_ADMIN_TOKEN (or RTKC_ADMIN_TOKEN_FILE / tokens.admin_file)",
            ids,
            tokens.admin or "",
            target.account_id or "",
            target.app_id or "",
        )
    ]
    if tokens.readonly:
        found.append(
            _Token(
                "read-only token",
                "RTKC_READONLY_TOKEN (or RTKC_READONLY_TOKEN_FILE / tokens.readonly_file)",
                ids,
                tokens.readonly,
                target.account_id or "",
                target.app_id or "",
            )
        )
    # The no-permission token is meant to be refused, with 401 or 403: nothing to learn from it.
    if other.token and other.account_id and other.app_id:
        found.append(
            _Token(
                "other account's token",
                "RTKC_OTHER_TOKEN (or RTKC_OTHER_TOKEN_FILE / other_account.token_file)",
                "other_account.account_id / other_account.app_id (RTKC_OTHER_ACCOUNT_ID / RTKC_OTHER_APP_ID)",
                other.token,
                other.account_id,
                other.app_id,
            )
        )
    return found


def check(config: RunConfig) -> None:
    """Raise PreflightFailed with one line if the configured target cannot be run against."""
    if not config.target.base_url:
        return  # the embedded reference is built with matching credentials
    try:
        asyncio.run(asyncio.wait_for(_check(config), TOTAL_DEADLINE))
    except TimeoutError:
        raise PreflightFailed(
            f"cannot reach {config.target.base_url}: the preflight got no answers within {TOTAL_DEADLINE:g} s; "
            "is the target running there?"
        ) from None


async def _check(config: RunConfig) -> None:
    timeout = min(config.limits.request_timeout_seconds, REQUEST_TIMEOUT_CAP)
    headers = {"user-agent": f"realtimekit-conformance/{__version__} preflight", "accept": "application/json"}
    # Its own small budget: no other process of the run is sending yet.
    limiter = budget_limiter(config.limits.requests_per_10s)
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), headers=headers, follow_redirects=False) as http:
        probe = _Probe(config, http, limiter, timeout, Redactor(config.secrets()))
        for token in _tokens(config):
            await probe.token(token)


class _Probe:
    def __init__(
        self, config: RunConfig, http: httpx.AsyncClient, limiter: Limiter, timeout: float, redactor: Redactor
    ) -> None:
        self.base_url = (config.target.base_url or "").rstrip("/")
        self.http = http
        self.limiter = limiter
        self.timeout = timeout
        self.redactor = redactor

    def _account_url(self, account_id: str) -> str:
        return f"{self.base_url}/accounts/{quote(account_id, safe='')}/realtime/kit"

    async def _get(self, url: str, token: str, params: dict[str, Any]) -> httpx.Response:
        await self.limiter.acquire()
        try:
            # A trickling server would never trip httpx's per-phase timeouts.
            async with asyncio.timeout(2 * self.timeout):
                return await self.http.get(url, params=params, headers={"authorization": f"Bearer {token}"})
        except (httpx.TimeoutException, TimeoutError):
            raise PreflightFailed(
                f"cannot reach {self.base_url}: GET {url} got no answer within {self.timeout:g} s; "
                "is the target running there?"
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise PreflightFailed(f"target.base_url {self.base_url!r} is not a usable http(s) URL ({exc})") from None
        except httpx.HTTPError as exc:
            raise PreflightFailed(
                f"cannot reach {self.base_url}: {_transport_reason(exc)}; is the target running there?"
            ) from None

    async def token(self, token: _Token) -> None:
        url = f"{self._account_url(token.account_id)}/{quote(token.app_id, safe='')}/meetings"
        response = await self._get(url, token.value, {"per_page": 1})
        status = response.status_code
        where = f"GET {url} answered {status}"
        if status == 401:
            raise PreflightFailed(f"the {token.name} was refused ({where}): set a valid {token.setting}")
        if status == 403:
            raise PreflightFailed(
                f"the {token.name} may not read meetings of app {token.app_id!r} in account {token.account_id!r} "
                f"({where}): give it a Realtime permission, or check {token.setting} and {token.ids_setting}"
            )
        if status == 404:
            raise PreflightFailed(await self._not_found(token, where, response))
        if 300 <= status < 400:
            location = response.headers.get("location", "nowhere")
            raise PreflightFailed(f"not a RealtimeKit API at {self.base_url}: {where}, a redirect to {location}")
        if 200 <= status < 300 and not _is_envelope(response):
            raise PreflightFailed(
                f"not a RealtimeKit API at {self.base_url}: {where} with {self._describe(response)}, "
                "not a {success, data} envelope; check target.base_url (it usually ends in /client/v4)"
            )

    async def _not_found(self, token: _Token, where: str, response: httpx.Response) -> str:
        """Which id is wrong, if the account's app list (Cloudflare's get_apps) can say."""
        if not _is_json(response):
            return (
                f"not a RealtimeKit API at {self.base_url}: {where} with {self._describe(response)}; "
                "check target.base_url (it usually ends in /client/v4)"
            )
        apps = await self._get(f"{self._account_url(token.account_id)}/apps", token.value, {"per_page": 100})
        ids = _app_ids(apps) if apps.status_code == 200 else None
        if ids is not None and token.app_id not in ids:
            return (
                f"app_id {token.app_id!r} is not an app of account {token.account_id!r} ({where}); "
                f"check {token.ids_setting}"
            )
        return (
            f"account_id {token.account_id!r} or app_id {token.app_id!r} not found ({where}); check {token.ids_setting}"
        )

    def _describe(self, response: httpx.Response) -> str:
        kind = response.headers.get("content-type", "no content type").split(";")[0].strip() or "no content type"
        printable = "".join(c if c.isprintable() else "?" for c in response.text[:BODY_CHARS])
        body = " ".join(self.redactor.redact_text(printable).split())
        return f"{kind} {body!r}" if body else f"{kind} and an empty body"


def _transport_reason(exc: httpx.HTTPError) -> str:
    detail = " ".join((str(exc) or type(exc).__name__).split())
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({detail})"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return f"the connection was closed before a complete answer ({detail})"
    return detail


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _is_json(response: httpx.Response) -> bool:
    return isinstance(_json(response), dict)


def _is_envelope(response: httpx.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and body.get("success") is True and "data" in body


def _app_ids(response: httpx.Response) -> set[str] | None:
    body = _json(response)
    data = body.get("data") if isinstance(body, dict) and body.get("success") is True else None
    if not isinstance(data, list) or not all(isinstance(app, dict) for app in data):
        return None
    paging = body.get("paging")
    total = paging.get("total_count") if isinstance(paging, dict) else None
    if isinstance(total, int) and total > len(data):
        return None  # more apps than one page: absence from this page proves nothing
    return {str(app.get("id")) for app in data}
