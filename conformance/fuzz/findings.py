"""What a fuzz campaign found, read from schemathesis' NDJSON event stream.

The stream is schemathesis' machine-readable report: one event per line; each finished
scenario carries its cases (with parent links for stateful chains), the checks run on each
case and every HTTP interaction as sent and answered. From it come the failures (check,
operation, a curl reproduction of the whole chain), the request log a seeded run can be
compared by, and the numbers that tell a run that tested something from one that did not.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from conformance.fuzz.checks import excused, requirement_of
from conformance.redaction import Redactor

# The curl reproductions use the variable, never the token.
TOKEN_VARIABLE = "RTK_API_TOKEN"
FILTERED = "[Filtered]"  # schemathesis' own mark for a credential it left out of the report
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Values a target makes up and the fuzzer may send back: ids, and timestamps (also as they
# look percent-encoded in a query string).
_COLON = r"(?::|%3[aA])"
MADE_UP = re.compile(
    UUID.pattern
    + rf"|\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}{_COLON}\d{{2}}{_COLON}\d{{2}}(?:\.\d+)?(?:Z|[+-]\d{{2}}{_COLON}\d{{2}})?"
)


@dataclass(frozen=True)
class Interaction:
    phase: str
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    status: int | None
    case_id: str
    timestamp: float

    @property
    def authenticated(self) -> bool:
        return any(name.lower() == "authorization" for name in self.headers)


@dataclass(frozen=True)
class Finding:
    check: str
    operation: str
    title: str
    message: str
    phase: str
    status: int | None
    reproduction: tuple[str, ...]  # curl commands, first to last (a stateful chain has several)
    method: str = ""  # the method sent, which a probe of an unlisted method chooses itself

    @property
    def requirement(self) -> str:
        """What it counts against (conformance/fuzz/checks.py says which check may FAIL what)."""
        return requirement_of(self.check, self.title, self.status, self.operation)

    def headline(self) -> str:
        status = f" (answered {self.status})" if self.status is not None else ""
        return f"{self.check} on {self.operation}{status}: {self.title}"

    def describe(self) -> str:
        lines = [self.headline(), f"  phase: {self.phase}"]
        lines += ["  " + line for line in self.message.splitlines() if line.strip()]
        lines.append("  reproduce with:")
        lines += [f"    {command}" for command in self.reproduction]
        return "\n".join(lines)


@dataclass
class CampaignReport:
    seed: int | None = None
    interactions: list[Interaction] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # Failures that are none: a method the suite does not list but Cloudflare's description has.
    excused: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what kept schemathesis from testing
    unreachable: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)  # phase -> status
    # Ids and timestamps the target made up (found in an answer, not in its request): they
    # differ from run to run however the requests were generated.
    server_values: set[str] = field(default_factory=set)
    running_time: float | None = None

    @property
    def requests(self) -> int:
        return len(self.interactions)

    def statuses(self) -> Counter[int | None]:
        return Counter(i.status for i in self.interactions)

    def all_authenticated_refused(self) -> bool:
        """Every request that carried the admin token got 401: the token does not work."""
        sent = [i for i in self.interactions if i.authenticated]
        return bool(sent) and all(i.status == 401 for i in sent)

    def for_requirement(self, requirement: str) -> list[Finding]:
        return [f for f in self.findings if f.requirement == requirement]


def _decode(payload: Any) -> str | None:
    if payload is None:
        return None
    if isinstance(payload, dict) and "$base64" in payload:
        return base64.b64decode(payload["$base64"]).decode("utf-8", errors="replace")
    if isinstance(payload, dict) and "string" in payload:  # older schemathesis spelling
        return str(payload["string"])
    return str(payload)


def _headers(raw: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (raw or {}).items():
        out[name] = value[0] if isinstance(value, list) and value else str(value)
    return out


OUR_TOKEN_HEADER = f'"Authorization: Bearer ${TOKEN_VARIABLE}"'
INVALID_TOKEN_HEADER = "'Authorization: Bearer not-a-valid-token'"


def curl(interaction: Interaction, redactor: Redactor | None = None) -> str:
    """A ready-to-paste curl for one request; the admin token becomes $RTK_API_TOKEN."""
    parts = ["curl", "-X", interaction.method, shlex.quote(interaction.url)]
    for name, value in interaction.headers.items():
        if name.lower() == "authorization":
            # The stream never holds the token (schemathesis filters every credential).
            if value == FILTERED or value.startswith("Bearer " + FILTERED):
                parts += ["-H", OUR_TOKEN_HEADER]
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        elif name.lower() in ("content-type", "accept") or name.lower().startswith("x-"):
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if interaction.body is not None:
        parts += ["--data-raw", shlex.quote(interaction.body)]
    command = " ".join(parts)
    return redactor.redact_text(command) if redactor is not None else command


def read_events(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line cut short by a killed child
            yield from event.items()


def read_report(path: Path, redactor: Redactor | None = None) -> CampaignReport:
    report = CampaignReport()
    seen: set[tuple[str, str, str, int | None]] = set()  # one finding per kind, first one kept
    for name, payload in read_events(path):
        if name == "Initialize":
            report.seed = payload.get("seed")
        elif name == "ScenarioFinished":
            _read_scenario(report, payload, redactor, seen)
        elif name == "NonFatalError":
            _read_error(report, payload)
        elif name == "FatalError":
            report.errors.append(_error_text(payload))
        elif name == "PhaseFinished":
            report.phases[payload["phase"]["name"]] = payload.get("status", "")
        elif name == "EngineFinished":
            report.running_time = payload.get("running_time")
    report.interactions.sort(key=lambda i: i.timestamp)
    return report


def _error_text(payload: dict[str, Any]) -> str:
    value = payload.get("value") or payload.get("exception") or {}
    if isinstance(value, dict):
        return f"{value.get('type', 'error')}: {value.get('message', '')}"
    return str(value)


def _read_error(report: CampaignReport, payload: dict[str, Any]) -> None:
    text = f"{payload.get('label', '')}: {_error_text(payload)}"
    value = payload.get("value") or {}
    kind = value.get("type", "") if isinstance(value, dict) else ""
    if kind in ("ConnectionError", "ConnectTimeout") or "Connection refused" in text:
        report.unreachable.append(text)
    else:
        report.errors.append(text)


def _read_scenario(
    report: CampaignReport,
    payload: dict[str, Any],
    redactor: Redactor | None,
    seen: set[tuple[str, str, str, int | None]],
) -> None:
    recorder = payload.get("recorder") or {}
    phase = payload.get("phase", "")
    cases = recorder.get("cases") or {}
    interactions: dict[str, Interaction] = {}
    for case_id, raw in (recorder.get("interactions") or {}).items():
        request = raw.get("request") or {}
        response = raw.get("response") or {}
        interaction = Interaction(
            phase=phase,
            method=request.get("method", ""),
            url=request.get("uri", ""),
            headers=_headers(request.get("headers")),
            body=_decode(request.get("body")),
            status=response.get("status_code") if response else None,
            case_id=case_id,
            timestamp=raw.get("timestamp", 0.0),
        )
        interactions[case_id] = interaction
        report.interactions.append(interaction)
        answer = _decode(response.get("content")) if response else None
        if answer:
            sent = unquote(interaction.url) + (interaction.body or "")
            report.server_values.update(v for v in MADE_UP.findall(answer) if v not in sent)
    for case_id, checks in (recorder.get("checks") or {}).items():
        for check in checks:
            if check.get("status") != "failure":
                continue
            failure = (check.get("failure_info") or {}).get("failure") or {}
            operation = failure.get("operation") or recorder.get("label", "")
            sent = interactions.get(case_id)
            status = sent.status if sent is not None else None
            # The same fault tends to show in every phase and on several cases: report it once.
            key = (check.get("name", ""), operation, failure.get("title", ""), status)
            if key in seen:
                continue
            seen.add(key)
            chain = [interactions[c] for c in _chain(case_id, cases) if c in interactions]
            reproduction = [curl(i, redactor) for i in chain]
            if reproduction and "invalid authentication" in failure.get("title", ""):
                # The stream hides every credential alike; this request carried a made-up one.
                reproduction[-1] = reproduction[-1].replace(OUR_TOKEN_HEADER, INVALID_TOKEN_HEADER)
            found = Finding(
                check=check.get("name", "unknown"),
                operation=operation,
                title=failure.get("title", ""),
                message=failure.get("message", ""),
                phase=phase,
                status=status,
                reproduction=tuple(reproduction),
                method=sent.method if sent is not None else "",
            )
            (report.excused if excused(found.check, found.method, operation) else report.findings).append(found)


def _chain(case_id: str, cases: dict[str, Any]) -> list[str]:
    """The case and its ancestors (a stateful chain), oldest first."""
    chain: list[str] = []
    current: str | None = case_id
    while current is not None and current not in chain:
        chain.append(current)
        current = (cases.get(current) or {}).get("parent_id")
    return list(reversed(chain))


def request_log(interactions: Iterable[Interaction], server_values: Iterable[str] = ()) -> list[dict[str, Any]]:
    """What was sent, in order, with the values the target made up numbered by first
    appearance: the record two seeded runs against fresh targets are compared by."""
    known = set(server_values)
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        value = unquote(match.group(0))
        return names.setdefault(value, f"<made-up-{len(names) + 1}>") if value in known else match.group(0)

    def stable(text: str | None) -> str | None:
        return None if text is None else MADE_UP.sub(name, text)

    return [
        {
            "phase": i.phase,
            "method": i.method,
            "path": stable(urlsplit(i.url)._replace(scheme="", netloc="").geturl()),
            "body": stable(i.body),
            "status": i.status,
        }
        for i in interactions
    ]
