"""The suite's client for the RealtimeKit REST API.

One `httpx.AsyncClient` per run. Every attempt waits for the shared rate limiter, is
recorded (redacted) in the evidence log under the current check, and transport failures
are mapped onto the error tree in `conformance.errors`. Helpers return the response
as-is; deciding what is right is the scenarios' job.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx

from conformance import __version__
from conformance.config import RunConfig
from conformance.error_envelope import envelope_problem
from conformance.errors import (
    CheckNotRunnable,
    ConfigError,
    ImplementationFailed,
    SuiteHookFailed,
    TargetTimeout,
    TargetUnreachable,
    UnexpectedResponse,
)
from conformance.evidence_log import EvidenceLog, Exchange, current_check
from conformance.preset_body import preset_body
from conformance.request_budget import Limiter, retry_after_seconds

__all__ = ["ApiClient", "ApiResponse", "Auth", "ClientStats", "current_check"]

Auth = Literal["admin", "readonly", "no_permission", "other", "none"]

MAX_429_RETRIES = 3
MAX_RETRY_AFTER_SECONDS = 30.0  # a check cannot wait longer for a throttled target
BODY_IN_MESSAGE = 300

# Where each token comes from, for "set this variable" messages.
_TOKEN_ENV = {
    "admin": "RTKC_ADMIN_TOKEN",
    "readonly": "RTKC_READONLY_TOKEN",
    "no_permission": "RTKC_NO_PERMISSION_TOKEN",
    "other": "RTKC_OTHER_TOKEN",
}


@dataclass(frozen=True)
class ApiResponse:
    """One answer. Holds the real body (scenarios need participant tokens); messages
    built from it use the redacted copy in `exchange`."""

    method: str
    path: str  # as the caller gave it; used in messages
    status: int
    headers: httpx.Headers
    text: str
    json: Any  # parsed body, or None when the body is not JSON
    exchange: Exchange

    @property
    def exchange_id(self) -> str:
        return self.exchange.id

    @property
    def content_type(self) -> str:
        """Media type without parameters, lower-case: "application/json"."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def data(self) -> Any:
        """body["data"] of a success envelope, else None."""
        body = self.json
        if isinstance(body, dict) and body.get("success") is True:
            return body.get("data")
        return None

    def envelope_problem(self) -> str | None:
        """Why this answer is not the error envelope with its status as `code`, or None
        (the one judge, conformance.error_envelope, shared with the fuzz phase)."""
        return envelope_problem(self.status, self.headers.get("content-type"), self.json)

    def is_error_envelope(self) -> bool:
        return self.envelope_problem() is None

    @property
    def error_code(self) -> Any:
        """body["error"]["code"] whatever its type, else None: what a message reports."""
        body = self.json
        error = body.get("error") if isinstance(body, dict) else None
        return error.get("code") if isinstance(error, dict) else None

    def expect(self, status: int | Iterable[int], what: str) -> ApiResponse:
        """Return self if the status is one of `status`, else raise UnexpectedResponse.

        `what` says what the call was for, in words: "end the live session".
        """
        wanted = {status} if isinstance(status, int) else set(status)
        if self.status in wanted:
            return self
        expected = " or ".join(str(s) for s in sorted(wanted))
        raise UnexpectedResponse(
            f"{self.method} {self.path}: expected {expected} ({what}), got {self.status}: {self.body_excerpt()}",
            exchange_id=self.exchange.id,
        )

    def body_excerpt(self, limit: int = BODY_IN_MESSAGE) -> str:
        """The redacted body on one line, cut to `limit` characters."""
        body = " ".join((self.exchange.response_body or "").split())
        if not body:
            return "(empty body)"
        return body if len(body) <= limit else body[:limit] + "..."


class TargetDown(TargetUnreachable):
    """The circuit breaker is open: the target stopped answering; no more requests are sent."""


class CircuitBreaker:
    """Stops a run early when the target is down, instead of failing checks one by one.

    After `threshold` consecutive connection failures (nothing answered at all), every
    further request fails at once with TargetDown, naming the last failure.
    """

    def __init__(self, threshold: int = 5) -> None:
        self.threshold = threshold
        self.consecutive = 0
        self.last: str = ""

    @property
    def open(self) -> bool:
        return self.consecutive >= self.threshold

    def check(self) -> None:
        if self.open:
            raise TargetDown(
                f"the target is down: {self.consecutive} consecutive connection failures "
                f"(last: {self.last}); no further requests are sent"
            )

    def failed(self, error: Exception) -> None:
        if isinstance(error, TargetUnreachable):
            self.consecutive += 1
            self.last = str(error)

    def answered(self) -> None:
        self.consecutive = 0


@dataclass
class ClientStats:
    attempts: int = 0  # HTTP requests sent, retries included
    throttled: int = 0  # 429 answers received


class ApiClient:
    """`async with ApiClient(config, evidence, limiter) as api: await api.kick_all(id)`."""

    def __init__(
        self,
        config: RunConfig,
        evidence: EvidenceLog,
        limiter: Limiter,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not config.target.base_url:
            raise ConfigError("target.base_url is not set (RTKC_BASE_URL)")
        self.config = config
        self.evidence = evidence
        self.limiter = limiter
        self.stats = ClientStats()
        self.breaker = CircuitBreaker()
        for secret in config.secrets():
            evidence.redactor.add(secret)
        self.base_url = config.target.base_url
        request_timeout = config.limits.request_timeout_seconds
        self._timeout = httpx.Timeout(request_timeout)
        # httpx's timeouts are per phase; a server that trickles one byte at a time would
        # never trip them, so the whole exchange also gets a backstop deadline.
        self._exchange_deadline = 2 * request_timeout
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=self._timeout,
            follow_redirects=False,  # a redirect is an answer worth seeing, not following
            headers={
                "user-agent": f"realtimekit-conformance/{__version__}",
                "accept": "application/json",
            },
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- addressing -----------------------------------------------------------------------

    def app_path(self, account: Literal["admin", "other"] = "admin") -> str:
        """The app prefix, /accounts/{account_id}/realtime/kit/{app_id}, of either account."""
        if account == "other":
            acct = self.config.other_account
            if not (acct.account_id and acct.app_id):
                raise CheckNotRunnable(
                    "this check needs a second account: set RTKC_OTHER_ACCOUNT_ID, "
                    "RTKC_OTHER_APP_ID and RTKC_OTHER_TOKEN"
                )
            account_id, app_id = acct.account_id, acct.app_id
        else:
            account_id, app_id = self.config.target.account_id, self.config.target.app_id
        return f"/accounts/{_seg(account_id or '')}/realtime/kit/{_seg(app_id or '')}"

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/"):
            path = "/" + path
        if path.startswith("/accounts"):
            return self.base_url + path
        return self.base_url + self.app_path() + path

    def _token(self, auth: Auth) -> str | None:
        tokens = self.config.tokens
        token = {
            "admin": tokens.admin,
            "readonly": tokens.readonly,
            "no_permission": tokens.no_permission,
            "other": self.config.other_account.token,
            "none": None,
        }[auth]
        if token is None and auth != "none":
            env = _TOKEN_ENV[auth]
            raise CheckNotRunnable(
                f"this check needs the {auth} token, which is not configured; set {env} or {env}_FILE"
            )
        return token

    # -- the one way out ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        auth: Auth = "admin",
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """Send one API call; retry only on 429 (honouring Retry-After, at most 3 times).

        `path` is relative to the app prefix, or to base_url if it starts with
        "/accounts", or an absolute http(s) URL.
        """
        method = method.upper()
        url = self.url_for(path)
        send_headers: dict[str, str] = dict(headers or {})
        token = self._token(auth)
        if token is not None:
            send_headers["authorization"] = f"Bearer {token}"
        if raw_body is not None and json is not None:
            raise ValueError("give json or raw_body, not both")

        for attempt in range(MAX_429_RETRIES + 1):
            response = await self._attempt(method, path, url, json, params, raw_body, send_headers)
            if response.status != 429:
                return response
            self.stats.throttled += 1
            if attempt == MAX_429_RETRIES:
                break
            # The server told us how long to wait; a computed sleep is the honest answer.
            await asyncio.sleep(retry_after_seconds(response.headers.get("retry-after"), MAX_RETRY_AFTER_SECONDS))
        return response

    async def _attempt(
        self,
        method: str,
        path: str,
        url: str,
        json: Any,
        params: Mapping[str, Any] | None,
        raw_body: bytes | None,
        headers: Mapping[str, str],
    ) -> ApiResponse:
        self.breaker.check()
        await self.limiter.acquire()
        request = self._http.build_request(
            method,
            url,
            json=json,
            params=params,
            content=raw_body,
            headers=headers,
            timeout=self._timeout,
        )
        self.stats.attempts += 1
        started = datetime.now(UTC)
        t0 = time.monotonic()

        def record(response: httpx.Response | None, error: str | None) -> Exchange:
            return self.evidence.record_exchange(
                method=method,
                url=str(request.url),
                request_headers=request.headers,
                request_body=request.content,
                status=response.status_code if response is not None else None,
                response_headers=response.headers if response is not None else None,
                response_body=response.content if response is not None else None,
                error=error,
                started_at=started,
                duration_ms=(time.monotonic() - t0) * 1000,
                check=current_check.get(),
            )

        try:
            async with asyncio.timeout(self._exchange_deadline):
                response = await self._http.send(request)
        except (httpx.HTTPError, TimeoutError) as exc:
            mapped = self._map_error(method, path, url, exc)
            exchange = record(None, str(mapped))
            mapped.exchange_id = exchange.id
            self.breaker.failed(mapped)
            raise mapped from exc

        self.breaker.answered()
        exchange = record(response, None)
        try:
            body = jsonlib.loads(response.content) if response.content else None
        except ValueError:
            body = None
        return ApiResponse(
            method=method,
            path=path,
            status=response.status_code,
            headers=response.headers,
            text=response.text,
            json=body,
            exchange=exchange,
        )

    def _map_error(
        self, method: str, path: str, url: str, exc: Exception
    ) -> TargetUnreachable | TargetTimeout | UnexpectedResponse | ConfigError:
        seconds = self.config.limits.request_timeout_seconds
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectTimeout):
            # Never connected: says nothing about the implementation's behaviour.
            return TargetUnreachable(
                f"{method} {url}: could not connect within {seconds:g} s; is the target running and reachable?"
            )
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return TargetTimeout(
                f"{method} {path}: no complete answer within {seconds:g} s (limits.request_timeout_seconds)"
            )
        if isinstance(exc, httpx.ConnectError):
            return TargetUnreachable(f"{method} {url}: cannot connect ({reason}); is the target running there?")
        if isinstance(exc, httpx.ReadError | httpx.WriteError) or (
            isinstance(exc, httpx.RemoteProtocolError) and "without sending" in reason
        ):
            return TargetUnreachable(f"{method} {url}: connection closed before any answer ({reason})")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return ConfigError(f"{method} {url}: unusable URL ({reason})")
        return UnexpectedResponse(f"{method} {path}: unusable answer ({reason})")

    # -- meetings (§3.2) --------------------------------------------------------------------

    async def create_meeting(self, *, auth: Auth = "admin", **body: Any) -> ApiResponse:
        return await self.request("POST", "/meetings", json=body, auth=auth)

    async def get_meeting(self, meeting_id: str, *, auth: Auth = "admin") -> ApiResponse:
        return await self.request("GET", f"/meetings/{_seg(meeting_id)}", auth=auth)

    async def update_meeting(self, meeting_id: str, *, auth: Auth = "admin", **body: Any) -> ApiResponse:
        return await self.request("PATCH", f"/meetings/{_seg(meeting_id)}", json=body, auth=auth)

    # -- participants (§3.3) ----------------------------------------------------------------

    async def add_participant(
        self,
        meeting_id: str,
        custom_participant_id: str,
        preset_name: str,
        name: str | None = None,
        *,
        auth: Auth = "admin",
    ) -> ApiResponse:
        body: dict[str, Any] = {
            "custom_participant_id": custom_participant_id,
            "preset_name": preset_name,
        }
        if name is not None:
            body["name"] = name
        path = f"/meetings/{_seg(meeting_id)}/participants"
        return await self.request("POST", path, json=body, auth=auth)

    async def delete_participant(self, meeting_id: str, participant_id: str, *, auth: Auth = "admin") -> ApiResponse:
        path = f"/meetings/{_seg(meeting_id)}/participants/{_seg(participant_id)}"
        return await self.request("DELETE", path, auth=auth)

    # -- active session (§3.4) --------------------------------------------------------------

    async def get_active_session(self, meeting_id: str, *, auth: Auth = "admin") -> ApiResponse:
        path = f"/meetings/{_seg(meeting_id)}/active-session"
        return await self.request("GET", path, auth=auth)

    async def kick(
        self,
        meeting_id: str,
        participant_ids: list[str] | None = None,
        custom_participant_ids: list[str] | None = None,
        *,
        auth: Auth = "admin",
    ) -> ApiResponse:
        # Both arrays always sent: one OpenAPI variant marks both required, the SDK neither.
        body = {
            "participant_ids": list(participant_ids or []),
            "custom_participant_ids": list(custom_participant_ids or []),
        }
        path = f"/meetings/{_seg(meeting_id)}/active-session/kick"
        return await self.request("POST", path, json=body, auth=auth)

    async def kick_all(self, meeting_id: str, *, auth: Auth = "admin") -> ApiResponse:
        path = f"/meetings/{_seg(meeting_id)}/active-session/kick-all"
        return await self.request("POST", path, auth=auth)

    # -- sessions (§3.5) --------------------------------------------------------------------

    async def list_sessions(self, *, auth: Auth = "admin", **params: Any) -> ApiResponse:
        return await self.request("GET", "/sessions", params=params or None, auth=auth)

    async def get_session(self, session_id: str, *, auth: Auth = "admin") -> ApiResponse:
        return await self.request("GET", f"/sessions/{_seg(session_id)}", auth=auth)

    async def list_session_participants(self, session_id: str, *, auth: Auth = "admin") -> ApiResponse:
        path = f"/sessions/{_seg(session_id)}/participants"
        return await self.request("GET", path, auth=auth)

    # -- recordings (§3.6) ------------------------------------------------------------------

    async def start_recording(self, meeting_id: str, *, auth: Auth = "admin", **body: Any) -> ApiResponse:
        payload = {"meeting_id": meeting_id, **body}
        return await self.request("POST", "/recordings", json=payload, auth=auth)

    async def get_recording(self, recording_id: str, *, auth: Auth = "admin") -> ApiResponse:
        return await self.request("GET", f"/recordings/{_seg(recording_id)}", auth=auth)

    async def recording_action(self, recording_id: str, action: str, *, auth: Auth = "admin") -> ApiResponse:
        """action: "stop", "pause" or "resume"."""
        path = f"/recordings/{_seg(recording_id)}"
        return await self.request("PUT", path, json={"action": action}, auth=auth)

    async def get_active_recording(self, meeting_id: str, *, auth: Auth = "admin") -> ApiResponse:
        path = f"/recordings/active-recording/{_seg(meeting_id)}"
        return await self.request("GET", path, auth=auth)

    # -- presets (§3.8) ---------------------------------------------------------------------

    async def create_preset(
        self,
        name: str,
        permissions: Mapping[str, Any] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        ui: Mapping[str, Any] | None = None,
        auth: Auth = "admin",
    ) -> ApiResponse:
        # Cloudflare's create_preset takes a whole preset: the given parts change the suite's
        # least-privileged complete body (conformance.preset_body), they do not replace it.
        body = preset_body(name, permissions, config=config, ui=ui)
        return await self.request("POST", "/presets", json=body, auth=auth)

    async def delete_preset(self, preset_id: str, *, auth: Auth = "admin") -> ApiResponse:
        return await self.request("DELETE", f"/presets/{_seg(preset_id)}", auth=auth)

    async def list_presets(self, *, auth: Auth = "admin") -> ApiResponse:
        return await self.request("GET", "/presets", auth=auth)

    # -- webhooks (§3.7, §4) ----------------------------------------------------------------

    async def create_webhook(
        self,
        name: str,
        url: str,
        events: list[str],
        enabled: bool = True,
        *,
        auth: Auth = "admin",
    ) -> ApiResponse:
        body = {"name": name, "url": url, "events": list(events), "enabled": enabled}
        return await self.request("POST", "/webhooks", json=body, auth=auth)

    async def update_webhook(self, webhook_id: str, *, auth: Auth = "admin", **body: Any) -> ApiResponse:
        return await self.request("PATCH", f"/webhooks/{_seg(webhook_id)}", json=body, auth=auth)

    async def delete_webhook(self, webhook_id: str, *, auth: Auth = "admin") -> ApiResponse:
        return await self.request("DELETE", f"/webhooks/{_seg(webhook_id)}", auth=auth)

    async def list_webhooks(self, *, auth: Auth = "admin") -> ApiResponse:
        return await self.request("GET", "/webhooks", auth=auth)

    async def get_webhook_public_key(self) -> str:
        """The PEM key webhooks are signed with, from {"data": {"publicKey": ...}}."""
        url = self.config.target.webhook_public_key_url
        if not url:
            raise ConfigError("target.webhook_public_key_url is not set")
        response = await self.request("GET", url, auth="none")
        response.expect(200, "fetch the webhook signing key")
        data = response.data
        key = data.get("publicKey") if isinstance(data, dict) else None
        if not isinstance(key, str) or "BEGIN PUBLIC KEY" not in key:
            raise UnexpectedResponse(
                f"GET {url}: expected {{success: true, data: {{publicKey: <PEM>}}}}, got: {response.body_excerpt()}",
                exchange_id=response.exchange_id,
            )
        return key

    # -- time control ---------------------------------------------------------------------

    async def advance_clock(self, seconds: float) -> ApiResponse:
        """Move the target's clock forward (time.control = "test-clock" only).

        The clock is the suite's hook, not RealtimeKit's API: any 2xx (a 204 with no body
        too) means done, and anything else means the check could not run (SuiteHookFailed),
        never that the implementation broke the requirement being checked.
        """
        if self.config.time.control != "test-clock":
            raise CheckNotRunnable("the target offers no test clock (time.control is 'none'), so it cannot be advanced")
        url = f"{self.config.api_origin}/_conformance/clock/advance"
        hook = f"test clock hook POST {url}"
        try:
            response = await self.request("POST", url, json={"seconds": seconds})
        except ImplementationFailed as exc:  # no answer in time, or an unusable one
            raise SuiteHookFailed(f"{hook} failed: {exc.message}", exchange_id=exc.exchange_id) from exc
        if not 200 <= response.status < 300:
            raise SuiteHookFailed(
                f"{hook} answered {response.status}, not a 2xx: {response.body_excerpt(120)}",
                exchange_id=response.exchange_id,
            )
        return response


def _seg(value: str) -> str:
    """Quote a path segment, so an odd id (a test's own doing) cannot change the route."""
    return quote(str(value), safe="")
