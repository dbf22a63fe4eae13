"""Signed webhook delivery through a durable outbox.

An event becomes one outbox row per subscribed, enabled webhook, committed before anything
else happens, so pending deliveries survive a restart. One worker per webhook delivers its
rows in order (so `meeting.started` never overtakes `participantJoined`), signing the exact
bytes it sends with RSA-SHA256 PKCS#1 v1.5. A 2xx is done; a 4xx (any non-2xx below 500) is
given up at once, as RealtimeKit does; a 5xx, timeout or connection error is retried with
backoff on the server clock. `rtk-uuid` is fixed when the row is written, so every retry of
one delivery carries the same value.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conformance.reference.clock import Clock, Scheduler
from conformance.reference.storage import Doc, Storage

log = logging.getLogger("conformance.reference.webhooks")


class WebhookSigner:
    """The server's key pair: generated once, kept in the database, public half published."""

    def __init__(self, storage: Storage) -> None:
        stored = storage.get("server_keys", "webhook-signing")
        if stored is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            storage.put("server_keys", {"id": "webhook-signing", "pem": pem}, scope="server")
        else:
            pem = stored["pem"]
        self._key = serialization.load_pem_private_key(pem.encode(), password=None)
        self.public_pem = (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, body: bytes) -> str:
        signature = self._key.sign(body, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
        return base64.b64encode(signature).decode()


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_seconds: float = 3.0
    backoff_seconds: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)  # then give up


class WebhookDispatcher:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        scheduler: Scheduler,
        signer: WebhookSigner,
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.scheduler = scheduler
        self.signer = signer
        self.policy = policy or DeliveryPolicy()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._http: httpx.AsyncClient | None = None
        self._subscribers: dict[tuple[str, str], list[Doc]] = {}
        self._subscribers_version = -1

    # -- producing -------------------------------------------------------------------------

    def subscribers(self, scope: str, event: str) -> list[Doc]:
        # Cached until the webhooks table changes: a kick-all asks once per participant.
        version = self.storage.version("webhooks")
        if version != self._subscribers_version:
            self._subscribers.clear()
            self._subscribers_version = version
        key = (scope, event)
        if key not in self._subscribers:
            self._subscribers[key] = self.storage.list(
                "webhooks", scope=scope, where=lambda w: w["enabled"] and event in w["events"]
            )
        return self._subscribers[key]

    def emit(self, scope: str, event: str, payload: dict[str, Any]) -> None:
        subscribers = self.subscribers(scope, event)
        body = json.dumps({"event": event, **payload}, separators=(",", ":")) if subscribers else ""
        for webhook in subscribers:
            row = {
                "id": str(uuid.uuid4()),
                "webhook_id": webhook["id"],
                "event": event,
                "uuid": str(uuid.uuid4()),
                "body": body,
                "attempts": 0,
                "next_attempt_at": self.clock.now(),
                "state": "pending",
                "last_status": None,
                "created_at": self.clock.iso(),
                "scope": scope,
            }
            self.storage.put("outbox", row, scope=scope, parent=webhook["id"])
            self._kick(webhook["id"])

    def drop_pending(self, webhook_id: str) -> None:
        """A deleted or disabled webhook gets nothing more, not even retries."""
        for row in self._pending(webhook_id):
            row["state"] = "dropped"
            self.storage.put("outbox", row, scope=row["scope"], parent=webhook_id)

    # -- delivering ------------------------------------------------------------------------

    async def start(self) -> None:
        self._http = httpx.AsyncClient(follow_redirects=False)
        for row in self.storage.list("outbox", where=lambda r: r["state"] == "pending"):
            self._kick(row["webhook_id"])

    async def stop(self) -> None:
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        if self._http:
            await self._http.aclose()

    def _kick(self, webhook_id: str) -> None:
        self._wake.setdefault(webhook_id, asyncio.Event()).set()
        task = self._workers.get(webhook_id)
        if task is None or task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not serving yet: start() picks pending rows up
            self._workers[webhook_id] = loop.create_task(self._work(webhook_id))

    def _pending(self, webhook_id: str) -> list[Doc]:
        return self.storage.list("outbox", parent=webhook_id, where=lambda r: r["state"] == "pending")

    async def _work(self, webhook_id: str) -> None:
        wake = self._wake.setdefault(webhook_id, asyncio.Event())
        while True:
            wake.clear()
            pending = self._pending(webhook_id)
            if not pending:
                await wake.wait()
                continue
            row = pending[0]
            if row["next_attempt_at"] > self.clock.now():
                await self.scheduler.sleep_until(row["next_attempt_at"])  # backoff: a defined timer
                continue
            await self._attempt(webhook_id, row)

    async def _attempt(self, webhook_id: str, row: Doc) -> None:
        webhook = self.storage.get("webhooks", webhook_id)
        scope = row["scope"]
        if webhook is None or not webhook["enabled"]:
            row["state"] = "dropped"
            self.storage.put("outbox", row, scope=scope, parent=webhook_id)
            return
        body = row["body"].encode()
        headers = self.delivery_headers(webhook, row, body)
        row["attempts"] += 1
        status: int | None = None
        try:
            assert self._http is not None
            response = await self._http.post(
                webhook["url"], content=body, headers=headers, timeout=self.policy.timeout_seconds
            )
            status = response.status_code
            row["last_error"] = None
        except (httpx.HTTPError, OSError) as exc:
            row["last_error"] = f"{type(exc).__name__}: {exc}"[:300]
        row["last_status"] = status
        self.settle(row, status)
        self.storage.put("outbox", row, scope=scope, parent=webhook_id)
        log.info(
            "webhook %s %s attempt %d -> %s",
            row["event"],
            row["uuid"],
            row["attempts"],
            status if status is not None else row["last_error"],
        )

    def settle(self, row: Doc, status: int | None) -> None:
        """The retry policy: what one attempt's outcome means for the delivery."""
        if status is not None and 200 <= status < 300:
            row["state"] = "delivered"
        elif status is not None and status < 500:
            row["state"] = "failed"  # 4xx: the receiver refused it; never retried
        elif row["attempts"] > len(self.policy.backoff_seconds):
            row["state"] = "failed"
        else:
            row["next_attempt_at"] = self.clock.now() + self.policy.backoff_seconds[row["attempts"] - 1]

    def delivery_headers(self, webhook: Doc, row: Doc, body: bytes) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "rtk-signature": self.signer.sign(body),
            "rtk-uuid": row["uuid"],
            "rtk-webhook-id": webhook["id"],
            "user-agent": "realtimekit-conformance-reference",
        }
