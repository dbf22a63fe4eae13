"""What the suite saw: every HTTP exchange and every client event / webhook delivery.

Everything is redacted when it is recorded, so the log never holds a token and any report
built from it is safe to share.
"""

from __future__ import annotations

import itertools
import json
import shlex
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance import __version__
from conformance.redaction import Redactor

__all__ = ["MAX_BODY_CHARS", "Event", "EvidenceLog", "Exchange", "curl", "current_check", "har_log"]

MAX_BODY_CHARS = 64 * 1024

# The node id of the check being run; the pytest plugin sets it around each check so
# exchanges and events are filed under it (also re-exported by conformance.client).
current_check: ContextVar[str | None] = ContextVar("current_check", default=None)


@dataclass(frozen=True)
class Exchange:
    id: str
    started_at: str  # ISO 8601, UTC
    duration_ms: float
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None  # None: no answer (see error)
    response_headers: dict[str, str]
    response_body: str | None
    error: str | None
    check: str | None  # node id of the check that made the request


@dataclass(frozen=True)
class Event:
    """Something that is not an HTTP exchange of ours: a client event, a webhook delivery."""

    id: str
    at: str  # ISO 8601, UTC
    kind: str
    payload: Any
    check: str | None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class EvidenceLog:
    def __init__(self, redactor: Redactor, *, max_body_chars: int = MAX_BODY_CHARS) -> None:
        self.redactor = redactor
        self.max_body_chars = max_body_chars
        # Recording may happen from the event loop and from a server thread.
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._exchanges: list[Exchange] = []
        self._events: list[Event] = []

    def record_exchange(
        self,
        *,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        request_body: bytes | str | None,
        status: int | None,
        response_headers: Mapping[str, str] | None,
        response_body: bytes | str | None,
        error: str | None,
        started_at: datetime,
        duration_ms: float,
        check: str | None,
    ) -> Exchange:
        r = self.redactor
        # Bodies first: they may teach the redactor new secrets (participant tokens)
        # that the URL and headers must not show either.
        req_body = self._body(request_body)
        resp_body = self._body(response_body)
        exchange = Exchange(
            id=self._next_id("x"),
            started_at=started_at.astimezone(UTC).isoformat(timespec="milliseconds"),
            duration_ms=round(duration_ms, 3),
            method=method.upper(),
            url=r.redact_text(url),
            request_headers=r.redact_headers(request_headers),
            request_body=req_body,
            status=status,
            response_headers=r.redact_headers(response_headers or {}),
            response_body=resp_body,
            error=r.redact_text(error) if error else None,
            check=check,
        )
        with self._lock:
            self._exchanges.append(exchange)
        return exchange

    def record_event(self, kind: str, payload: Any, check: str | None = None) -> Event:
        clean = self.redactor.redact_json(payload, learn=True)
        # Second pass: a secret learned late in the walk may appear earlier in the payload.
        clean = self.redactor.redact_json(clean)
        event = Event(id=self._next_id("e"), at=_now_iso(), kind=kind, payload=clean, check=check)
        with self._lock:
            self._events.append(event)
        return event

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def get(self, exchange_id: str) -> Exchange | None:
        return next((x for x in self.exchanges if x.id == exchange_id), None)

    def for_check(self, name: str) -> list[Exchange]:
        return [x for x in self.exchanges if x.check == name]

    def events_for_check(self, name: str) -> list[Event]:
        return [e for e in self.events if e.check == name]

    def to_har(self) -> dict[str, Any]:
        """All exchanges as a HAR 1.2 log (opens in browser dev tools and HAR viewers)."""
        return har_log(self.exchanges)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}{next(self._counter):05d}"

    def _body(self, body: bytes | str | None) -> str | None:
        if body is None:
            return None
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
        if not text:
            return text
        try:
            parsed = json.loads(text)
        except ValueError:
            pass
        else:
            cleaned = self.redactor.redact_json(parsed, learn=True)
            if cleaned != parsed:
                text = json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))
        text = self.redactor.redact_text(text)
        if len(text) > self.max_body_chars:
            dropped = len(text) - self.max_body_chars
            text = text[: self.max_body_chars] + f"...[truncated {dropped} characters]"
        return text


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def har_log(exchanges: Iterable[Exchange]) -> dict[str, Any]:
    """Exchanges as one HAR 1.2 log: the suite's one HAR mapping (EvidenceLog.to_har and
    reports/har.py's `evidence/exchanges.har`).

    Hand-written rather than through the `harfile` package (installed with schemathesis):
    harfile writes a fixed set of entry fields, and each entry here also names its check
    (`_check`), its evidence id (`_id`) and a transport error (`_error`), which the reports
    link by.
    """
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "realtimekit-conformance", "version": __version__},
            "entries": [_har_entry(x) for x in exchanges],
        }
    }


def _har_entry(x: Exchange) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": x.method,
        "url": x.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": [{"name": k, "value": v} for k, v in x.request_headers.items()],
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(x.url).query, True)],
        "headersSize": -1,
        "bodySize": len(x.request_body.encode()) if x.request_body is not None else 0,
    }
    if x.request_body is not None:
        request["postData"] = {
            "mimeType": _header(x.request_headers, "content-type") or "",
            "text": x.request_body,
        }
    body = x.response_body or ""
    try:
        status_text = HTTPStatus(x.status).phrase if x.status else ""
    except ValueError:
        status_text = ""
    entry: dict[str, Any] = {
        "startedDateTime": x.started_at,
        "time": x.duration_ms,
        "request": request,
        "response": {
            "status": x.status or 0,  # HAR's convention for "no response"
            "statusText": status_text,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in x.response_headers.items()],
            "content": {
                "size": len(body.encode()),
                "mimeType": _header(x.response_headers, "content-type") or "",
                "text": body,
            },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(body.encode()) if x.status else -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": x.duration_ms, "receive": 0},
        "_id": x.id,
        "_check": x.check,
    }
    if x.error:
        entry["_error"] = x.error
        entry["comment"] = x.error
    return entry


# Headers curl sets itself or that only add noise to a reproduction.
_CURL_SKIP = frozenset({"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"})


def curl(exchange: Exchange) -> str:
    """A ready-to-paste curl command that repeats the exchange; the token comes from
    $RTK_API_TOKEN so the command itself holds no secret."""
    parts = [f"curl -sS -i -X {exchange.method} {shlex.quote(exchange.url)}"]
    for name, value in exchange.request_headers.items():
        lower = name.lower()
        if lower in _CURL_SKIP:
            continue
        if lower == "authorization":
            # Double quotes so the shell expands the variable.
            parts.append('-H "Authorization: Bearer $RTK_API_TOKEN"')
        else:
            parts.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if exchange.request_body:
        parts.append(f"--data-raw {shlex.quote(exchange.request_body)}")
    return " \\\n  ".join(parts)
