"""Wires the reference implementation into one Starlette app.

`build(settings)` returns a `Reference`: the app plus handles on its parts, so tests and
faults can reach the state machine, the clock and the outbox without reaching into globals.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from conformance.reference.auth import ApiToken, AuthError, Permission, TokenRegistry
from conformance.reference.clock import Clock, Scheduler
from conformance.reference.hub import RealtimeHub
from conformance.reference.routes import RestApi, error_response, new_preset
from conformance.reference.sessions import SessionService, SessionSettings
from conformance.reference.storage import Storage
from conformance.reference.throttle import AccountRateLimit
from conformance.reference.validation import RequestValidator, strict_json
from conformance.reference.webhooks import DeliveryPolicy, WebhookDispatcher, WebhookSigner

log = logging.getLogger("conformance.reference")

HOST_PRESET = "group_call_host"
PARTICIPANT_PRESET = "group_call_participant"


def _token() -> str:
    return "rtka_" + secrets.token_urlsafe(24)


@dataclass
class Credentials:
    """Who may call the server. Fixed values make scripts reproducible; else random."""

    account_id: str = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    app_id: str = "reference-app"
    admin_token: str = field(default_factory=_token)
    readonly_token: str = field(default_factory=_token)
    no_permission_token: str = field(default_factory=_token)
    other_account_id: str = "f0e9d8c7b6a5948372615049382716a5"
    other_app_id: str = "other-app"
    other_token: str = field(default_factory=_token)

    def tokens(self) -> list[ApiToken]:
        return [
            ApiToken(self.admin_token, self.account_id, self.app_id, Permission.ADMIN),
            ApiToken(self.readonly_token, self.account_id, self.app_id, Permission.READ),
            ApiToken(self.no_permission_token, self.account_id, self.app_id, Permission.NONE),
            ApiToken(self.other_token, self.other_account_id, self.other_app_id, Permission.ADMIN),
        ]


@dataclass
class ReferenceSettings:
    db_path: str = ":memory:"
    credentials: Credentials = field(default_factory=Credentials)
    host_grace_seconds: float = 900.0
    test_clock: bool = False  # the /_conformance/clock endpoints; never on unless asked
    webhook_timeout_seconds: float = 3.0
    webhook_backoff_seconds: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    faults: tuple[str, ...] = ()
    requests_per_10s: int | None = None  # RealtimeKit's REST rate limit per account; None: no limit


@dataclass
class Reference:
    app: Starlette
    settings: ReferenceSettings
    storage: Storage
    clock: Clock
    scheduler: Scheduler
    dispatcher: WebhookDispatcher
    sessions: SessionService
    hub: RealtimeHub
    api: RestApi


def build(settings: ReferenceSettings | None = None) -> Reference:
    settings = settings or ReferenceSettings()
    storage = Storage(settings.db_path)
    clock = Clock()
    scheduler = Scheduler(clock)
    signer = WebhookSigner(storage)
    dispatcher = WebhookDispatcher(
        storage,
        clock,
        scheduler,
        signer,
        DeliveryPolicy(settings.webhook_timeout_seconds, settings.webhook_backoff_seconds),
    )
    sessions = SessionService(storage, clock, scheduler, dispatcher, SessionSettings(settings.host_grace_seconds))
    hub = RealtimeHub(sessions, storage)
    creds = settings.credentials
    api = RestApi(storage, sessions, dispatcher, signer, TokenRegistry(creds.tokens()), RequestValidator())
    _seed_presets(
        storage, clock, [f"{creds.account_id}/{creds.app_id}", f"{creds.other_account_id}/{creds.other_app_id}"]
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scheduler.start()
        sessions.recover()
        await dispatcher.start()
        log.info("reference implementation ready (faults: %s)", ", ".join(settings.faults) or "none")
        try:
            yield
        finally:
            await dispatcher.stop()
            await scheduler.stop()
            storage.close()

    routes: list[Route | WebSocketRoute] = [*api.routes(), WebSocketRoute("/realtime", hub.endpoint)]
    if settings.test_clock:
        routes += _clock_routes(clock, api.tokens)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        middleware=(
            [Middleware(AccountRateLimit, requests_per_10s=settings.requests_per_10s)]
            if settings.requests_per_10s
            else []
        ),
    )
    reference = Reference(app, settings, storage, clock, scheduler, dispatcher, sessions, hub, api)
    if settings.faults:
        from conformance.reference.faults import apply_faults

        apply_faults(reference, settings.faults)
    return reference


def _seed_presets(storage: Storage, clock: Clock, scopes: list[str]) -> None:
    """Every app starts with a host and a participant preset, as RealtimeKit apps do."""
    for scope in scopes:
        existing = {p["name"] for p in storage.list("presets", scope=scope)}
        for name, host in ((HOST_PRESET, True), (PARTICIPANT_PRESET, False)):
            if name not in existing:
                permissions = {
                    "kick_participant": host,
                    "pin_participant": host,
                    "can_record": host,
                    "disable_participant_audio": host,
                    "disable_participant_video": host,
                    "accept_waiting_requests": host,
                    "show_participant_list": True,
                }
                storage.put("presets", new_preset(name, permissions, clock.iso(), scope), scope=scope)


def _clock_routes(clock: Clock, tokens: TokenRegistry) -> list[Route]:
    """Opt-in time control: POST {"seconds": N} moves the server clock forward."""

    async def advance(request: Request) -> Response:
        try:
            tokens.identify(request.headers.get("authorization"))
        except AuthError as exc:
            return error_response(exc.status, exc.message)
        try:
            body = strict_json(await request.body())
            seconds = float(body["seconds"])
            if not 0 <= seconds <= 86_400:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return error_response(400, 'send {"seconds": N} with 0 <= N <= 86400')
        return JSONResponse({"success": True, "data": {"now": clock.iso(clock.advance(seconds))}})

    async def read(request: Request) -> Response:
        return JSONResponse({"success": True, "data": {"now": clock.iso()}})

    return [
        Route("/_conformance/clock/advance", advance, methods=["POST"]),
        Route("/_conformance/clock", read, methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such endpoint", 405: f"method {request.method} not allowed here"}
    return error_response(
        exc.status_code, messages.get(exc.status_code, str(exc.detail)), headers=dict(exc.headers or {})
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s: %r", request.method, request.url.path, exc)
    return error_response(500, "internal error")
