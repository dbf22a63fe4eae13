"""The world a scenario runs in: one `Harness` per test session, one `Scenario` per test.

The harness owns what lives for the whole run (config, API client, evidence, webhook
receiver, participant driver, the suite's presets). A scenario is a test's view of it: it
creates meetings named with the run id, joins participants, registers webhooks, passes
time — and on the way out cleans up everything it made, pass or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.client import ApiClient, ApiResponse
from conformance.config import RunConfig
from conformance.drivers.base import Participant, ParticipantDriver
from conformance.errors import CheckNotRunnable, ConfigError, UnexpectedResponse
from conformance.evidence_log import EvidenceLog, current_check
from conformance.preset_body import ROLE_PERMISSIONS
from conformance.redaction import Redactor
from conformance.request_budget import budget_limiter
from conformance.sweep import run_tag
from conformance.webhook_receiver import Channel, WebhookReceiver

log = logging.getLogger("conformance.harness")


def created(response: ApiResponse, doing: str) -> dict[str, Any]:
    """The resource a create answered with: a 2xx with `{success: true, data: {id, ...}}`.

    200 or 201: Cloudflare documents 201 for most creates and 200 for some (`start_recording`),
    and which one a create answers is API-01's business, not a setup step's. Anything else
    (garbage, another shape) is the implementation's failure, said plainly.
    """
    response.expect((200, 201), doing)
    data = response.data
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise UnexpectedResponse(
            f"{doing}: a created resource must come as {{success: true, data: {{id, ...}}}}, "
            f"got {response.body_excerpt()}",
            exchange_id=response.exchange_id,
        )
    return data


@dataclass
class Ledger:
    """What this run created on the target, so that it can all be removed again."""

    meetings: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)
    presets: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)


def make_driver(config: RunConfig, evidence: EvidenceLog, timeout: float) -> ParticipantDriver:
    def sink(label: str, event: dict[str, Any]) -> None:
        evidence.record_event("client-event", {"participant": label, **event}, current_check.get())

    if config.driver.kind == "bridge":
        from conformance.drivers.bridge import BridgeDriver

        if not config.driver.bridge_command:
            raise ConfigError("driver.kind = bridge needs driver.bridge_command (RTKC_BRIDGE_COMMAND)")
        return BridgeDriver(config.target.realtime_url, sink, timeout, command=list(config.driver.bridge_command))
    from conformance.drivers.websocket import WebSocketDriver

    return WebSocketDriver(config.target.realtime_url, sink, timeout)


class Harness:
    def __init__(self, config: RunConfig, rate_window: Path | None = None) -> None:
        self.config = config
        # The run's shared request budget file (run plan), under `conformance run` against a
        # configured target; the fuzz phase's child takes its slots from it too.
        self.rate_window = rate_window
        self.redactor = Redactor(config.secrets())
        self.evidence = EvidenceLog(self.redactor)
        # Under `conformance run` against a configured target, every process of the run takes
        # its slots from one shared window; otherwise parallel test processes split the budget.
        workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
        self.limiter = budget_limiter(config.limits.requests_per_10s, rate_window, workers)
        self.tag = run_tag(config.run_id)
        self.api = ApiClient(config, self.evidence, self.limiter)
        self.ledger = Ledger()
        self.receiver: WebhookReceiver | None = None
        self._driver: ParticipantDriver | None = None
        self.host_preset = config.presets.host or ""
        self.participant_preset = config.presets.participant or ""
        self._labels = itertools.count(1)
        self._key_loaded = False

    @property
    def profiles(self) -> tuple[str, ...]:
        return self.config.target.profiles

    @property
    def event_timeout(self) -> float:
        return self.config.limits.event_timeout_seconds

    async def open(self) -> Harness:
        if not (self.host_preset and self.participant_preset):
            await self._create_presets()
        if "webhooks" in self.profiles or "recording" in self.profiles or "session" in self.profiles:
            self.receiver = WebhookReceiver(
                self.config.webhooks.listen, self.config.webhooks.public_url, evidence=self.evidence
            )
            await self.receiver.start()
        return self

    @property
    def driver(self) -> ParticipantDriver:
        if self._driver is None:
            self._driver = make_driver(self.config, self.evidence, self.event_timeout)
        return self._driver

    async def load_public_key(self) -> None:
        """Fetch the target's webhook signing key once, so deliveries get verified."""
        if self.receiver is not None and not self._key_loaded:
            self.receiver.set_public_key(await self.api.get_webhook_public_key())
            self._key_loaded = True

    async def _create_presets(self) -> None:
        run = self.tag
        for role, permissions in ROLE_PERMISSIONS.items():
            # Each parallel test process makes its own pair: preset names are unique per app.
            worker = os.environ.get("PYTEST_XDIST_WORKER", "")
            name = f"{run}-{worker + '-' if worker else ''}{role}"
            response = await self.api.create_preset(name, permissions)
            self.ledger.presets.append(created(response, f"create the suite's {role} preset")["id"])
            if role == "host":
                self.host_preset = name
            else:
                self.participant_preset = name

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._driver is not None:
                await asyncio.wait_for(self._driver.aclose(), 10)
        for preset_id in self.ledger.presets:
            await self._try_cleanup(f"preset {preset_id}", self.api.delete_preset(preset_id), (200, 404))
        if self.receiver is not None:
            with contextlib.suppress(Exception):
                await self.receiver.stop()
        await self.api.aclose()

    async def _try_cleanup(self, what: str, call: Any, ok: tuple[int, ...]) -> None:
        try:
            response = await call
            if response.status not in ok:
                self.ledger.left_behind.append(f"{what} (cleanup answered {response.status})")
        except Exception as exc:  # cleanup must go on whatever the target does
            self.ledger.left_behind.append(f"{what} ({type(exc).__name__}: {exc})")

    def label(self, role: str) -> str:
        return f"{role}{next(self._labels)}"


@dataclass
class Seat:
    """A participant added to a meeting through the API (not yet joined)."""

    id: str
    custom_participant_id: str
    token: str = field(repr=False)
    role: str


class Scenario:
    """One test's handle on the target; `cleanup()` undoes everything it created."""

    def __init__(self, harness: Harness, name: str) -> None:
        self.harness = harness
        self.name = name
        self.api = harness.api
        self.config = harness.config
        self.timeout = harness.event_timeout
        self._meetings: list[str] = []
        self._webhooks: list[str] = []
        self._participants: list[Participant] = []
        self._seq = itertools.count(1)

    # -- resources -------------------------------------------------------------------------

    async def meeting(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("title", f"{self.harness.tag} {self.name}"[:255])
        response = await self.api.create_meeting(**fields)
        meeting = created(response, "create a meeting for this scenario")
        self._meetings.append(meeting["id"])
        self.harness.ledger.meetings.append(meeting["id"])
        return meeting

    async def seat(self, meeting_id: str, role: str = "participant") -> Seat:
        response, custom_id = await self.add_participant(meeting_id, role)
        return self.seat_from(response, custom_id, role)

    async def add_participant(self, meeting_id: str, role: str = "participant") -> tuple[ApiResponse, str]:
        """Ask the API for a participant; the answer is the caller's to judge (see seat_from)."""
        preset = self.harness.host_preset if role == "host" else self.harness.participant_preset
        custom_id = f"{self.harness.tag}-{role}-{next(self._seq)}"
        response = await self.api.add_participant(meeting_id, custom_id, preset, name=f"{role} {custom_id}")
        return response, custom_id

    def seat_from(self, response: ApiResponse, custom_id: str, role: str) -> Seat:
        participant = created(response, f"add a {role} to the meeting")
        token = participant.get("token")
        if not isinstance(token, str) or not token:
            raise UnexpectedResponse("add participant: the response carries no token", exchange_id=response.exchange_id)
        self.harness.redactor.add(token)
        return Seat(participant["id"], custom_id, token, role)

    async def client(self, role: str = "participant") -> Participant:
        participant = await self.harness.driver.participant(self.harness.label(role))
        self._participants.append(participant)
        return participant

    async def join(self, meeting_id: str, role: str = "participant", seat: Seat | None = None) -> Participant:
        """Add a participant through the API and join it through the driver."""
        seat = seat or await self.seat(meeting_id, role)
        participant = await self.client(role)
        participant.seat = seat  # type: ignore[attr-defined]
        await participant.join(seat.token)
        return participant

    async def join_many(self, meeting_id: str, *roles: str) -> list[Participant]:
        joined = []
        for role in roles:  # one by one: each join is observed by those already in
            joined.append(await self.join(meeting_id, role))
        return joined

    async def webhook(self, events: list[str], *, enabled: bool = True) -> tuple[dict[str, Any], Channel]:
        receiver = self.require_receiver()
        await self.harness.load_public_key()
        channel = receiver.channel()
        response = await self.api.create_webhook(
            f"{self.harness.tag} {self.name}"[:255], channel.url, events, enabled=enabled
        )
        webhook = created(response, "register a webhook")
        self._webhooks.append(webhook["id"])
        self.harness.ledger.webhooks.append(webhook["id"])
        return webhook, channel

    def require_receiver(self) -> WebhookReceiver:
        if self.harness.receiver is None:
            raise CheckNotRunnable("this check needs the webhook receiver (claim the webhooks profile)")
        return self.harness.receiver

    @property
    def webhooks_claimed(self) -> bool:
        return "webhooks" in self.harness.profiles

    # -- time ------------------------------------------------------------------------------

    async def pass_time(self, seconds: float, why: str) -> None:
        """Let `seconds` of the target's time pass: its own timer is what is being tested.

        With the target's test clock, the clock is advanced; otherwise real time is waited
        out if the configured budget allows; otherwise the check cannot run (never passes).
        """
        time = self.config.time
        if time.control == "test-clock":
            # Any 2xx is done; anything else is the suite's hook failing (SuiteHookFailed: ERROR).
            await self.api.advance_clock(seconds)
        elif time.real_time_budget_seconds >= seconds:
            await asyncio.sleep(seconds)  # waiting out the behaviour's own timer, by design
        else:
            raise CheckNotRunnable(
                f"{why} needs {seconds:.0f}s of target time: the target has no test clock "
                f"(time.control) and time.real_time_budget_seconds is "
                f"{time.real_time_budget_seconds:.0f}"
            )

    # -- teardown --------------------------------------------------------------------------

    async def cleanup(self) -> None:
        for participant in self._participants:
            with contextlib.suppress(Exception):
                await participant.close()
        for webhook_id in self._webhooks:
            await self.harness._try_cleanup(f"webhook {webhook_id}", self.api.delete_webhook(webhook_id), (200, 404))
        for meeting_id in self._meetings:
            # A meeting cannot be deleted through the API: INACTIVE is the way to retire it.
            await self.harness._try_cleanup(
                f"meeting {meeting_id}", self.api.update_meeting(meeting_id, status="INACTIVE"), (200,)
            )
