"""Which schemathesis check may fail which requirement, and which may only warn.

The campaign runs every check schemathesis has (plus the suite's `error_envelope`), then each
failure is judged here. A failure FAILs a MUST only where a public source backs it: the
answer contradicts Cloudflare's description of RealtimeKit (status, content type, headers,
body schema), the server broke (5xx), an operation that declares security worked without
credentials, or an error Cloudflare documents with its error schema lacks it. The rest rests
on choices the suite made where RealtimeKit's public material is silent (405 for unlisted
methods, refuse all invalid input, accept all valid input, 404 right after a delete, an
undocumented 4xx, 401 rather than another refusal, the envelope on every error): such a
failure counts against a SHOULD and shows as a warning that never gates. A method
Cloudflare's description has is no failure at all, whatever the suite's description lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from conformance.resources import openapi_path, read_yaml

API = "API-01"  # answers match the description; no 5xx
ENVELOPE = "API-02"  # an error Cloudflare documents with its error schema carries it
ENVELOPE_ELSEWHERE = "API-03"  # SHOULD: every other refusal carries it too
AUTH = "PERM-04"  # nothing works without credentials
AUTH_STATUS = "PERM-06"  # SHOULD: the refusal is 401 (no credentials) or 403
CONVENTIONS = "API-04"  # SHOULD: the suite's conventions where RealtimeKit is silent
OFFICIAL_DESCRIPTION = "cloudflare-realtimekit-openapi.yaml"  # beside openapi/realtimekit.yaml
# Cloudflare's error schema whose `code` is "HTTP status code of the error".
ERROR_SCHEMA = "#/components/schemas/realtimekit_GenericErrorResponse"


@dataclass(frozen=True)
class Rule:
    requirement: str
    why: str


# What each check's failure counts against, and why. A check not named here (a newer
# schemathesis may add some) has not been judged, so it can at most warn.
RULES = {
    "not_a_server_error": Rule(API, "a 5xx: the server broke on a request"),
    "status_code_conformance": Rule(API, "a 2xx/3xx the description does not list (an unlisted 4xx: API-04)"),
    "content_type_conformance": Rule(API, "a content type other than the documented application/json"),
    "response_headers_conformance": Rule(API, "a header the description documents is missing or malformed"),
    "response_schema_conformance": Rule(API, "a body outside the documented schema"),
    "error_envelope": Rule(ENVELOPE, "a documented error without Cloudflare's error schema (elsewhere: API-03)"),
    "ignored_auth": Rule(AUTH, "an operation that declares security succeeded without valid credentials"),
    "missing_required_header": Rule(AUTH_STATUS, "a request without Authorization was refused, but not with 401"),
    "negative_data_rejection": Rule(CONVENTIONS, "input outside the schemas was accepted"),
    "positive_data_acceptance": Rule(CONVENTIONS, "schema-valid input was refused"),
    "unsupported_method": Rule(CONVENTIONS, "a method neither description lists did not get 405 with Allow"),
    "allow_header_conformance": Rule(CONVENTIONS, "OPTIONS lists other methods than the description"),
    "use_after_free": Rule(CONVENTIONS, "a deleted resource was still readable"),
    "ensure_resource_availability": Rule(CONVENTIONS, "a created resource was not readable at once"),
    "object_level_authorization": Rule(CONVENTIONS, "one identity read another's object"),
}
UNJUDGED = Rule(CONVENTIONS, "a check the suite has not judged")
BODY_CHECKS = ("response_schema_conformance", "content_type_conformance")


def requirement_of(check: str, title: str = "", status: int | None = None, operation: str = "") -> str:
    """What a failure of `check` counts against, given its answer's status and its operation."""
    if check == "status_code_conformance" and status is not None and 400 <= status < 500:
        # Cloudflare documents few error statuses; an unlisted 4xx is plausible, not wrong.
        return CONVENTIONS
    if check == "ignored_auth" and not title.startswith("API accepts"):
        return AUTH_STATUS  # refused, only not with 401/403
    if check == "error_envelope" and not documents_error_schema(operation, status):
        return ENVELOPE_ELSEWHERE
    if check in BODY_CHECKS and status is not None and status >= 400 and not documents_status(operation, status):
        # An error status Cloudflare does not describe is one of the suite's additions: what
        # its body looks like is the envelope convention's business (API-03), not API-01's.
        return ENVELOPE_ELSEWHERE
    return RULES.get(check, UNJUDGED).requirement


_TEMPLATE = re.compile(r"\{[^}]*\}")


def _shape(path: str) -> str:
    # Path parameters may be named differently in the two descriptions.
    return _TEMPLATE.sub("{}", path.rstrip("/"))


METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


@cache
def _official() -> dict:
    path = openapi_path().with_name(OFFICIAL_DESCRIPTION)
    return read_yaml(path)  # type: ignore[return-value]


@cache
def official_operations() -> dict[tuple[str, str], dict]:
    """Cloudflare's operations by (METHOD, path shape)."""
    return {
        (method.upper(), _shape(template)): operation
        for template, item in (_official().get("paths") or {}).items()
        for method, operation in item.items()
        if method in METHODS
    }


def _refers_to_error_schema(node: object, seen: frozenset[str] = frozenset()) -> bool:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref == ERROR_SCHEMA:
                return True
            if ref in seen or not ref.startswith("#/"):
                return False
            target: object = _official()
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            return _refers_to_error_schema(target, seen | {ref})
        return any(_refers_to_error_schema(value, seen) for value in node.values())
    if isinstance(node, list):
        return any(_refers_to_error_schema(value, seen) for value in node)
    return False


def documents_error_schema(operation: str, status: int | None) -> bool:
    """Whether Cloudflare documents `status` of `operation` ("GET /a/{id}") with its error schema."""
    method, _, template = operation.partition(" ")
    described = official_operations().get((method.upper(), _shape(template)))
    if described is None or status is None:
        return False
    return _refers_to_error_schema((described.get("responses") or {}).get(str(status)))


def documents_status(operation: str, status: int) -> bool:
    """Whether Cloudflare's description lists `status` for `operation` ("GET /a/{id}") at all."""
    method, _, template = operation.partition(" ")
    described = official_operations().get((method.upper(), _shape(template)))
    return described is not None and str(status) in (described.get("responses") or {})


def officially_supported(method: str, operation: str) -> bool:
    """Whether Cloudflare's description has `method` on the path of `operation` ("GET /a/{id}")."""
    _, _, template = operation.partition(" ")
    return (method.upper(), _shape(template)) in official_operations()


def excused(check: str, method: str, operation: str) -> bool:
    """A failure that is no failure: a method the suite does not list but RealtimeKit has."""
    return check == "unsupported_method" and officially_supported(method, operation)
