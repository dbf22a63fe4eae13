"""JSON Schema validators for pieces of openapi/realtimekit.yaml (OpenAPI 3.1 = JSON Schema
2020-12), shared by the reference implementation (requests) and the suite (responses).

`#/components/...` references inside a piece resolve against the whole document.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.resources import openapi_document, openapi_path

ROOT = "urn:realtimekit-openapi"

FORMATS = FormatChecker()


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(UUID(value)) == value.lower()


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        raise ValueError("not a date-time")
    return datetime.fromisoformat(value.replace("z", "Z")).tzinfo is not None


# RFC 3986, exactly as schemathesis (the fuzz phase) judges it: a looser check here would
# accept what the fuzzer sends as invalid, a stricter one refuse what it sends as valid.
_URI = jsonschema_rs.Draft202012Validator({"format": "uri"}, validate_formats=True)


@FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.is_valid(value)


def registry(document: dict[str, Any]) -> Registry:
    return Registry().with_resource(ROOT, Resource.from_contents(document, default_specification=DRAFT202012))


def rebase(node: Any) -> Any:
    """Point local refs (#/...) at the document's registry entry."""
    if isinstance(node, dict):
        return {
            k: (f"{ROOT}{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#") else rebase(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [rebase(v) for v in node]
    return node


def validator(schema: dict[str, Any], document: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(rebase(schema), registry=registry(document), format_checker=FORMATS)


def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def first_error(check: Draft202012Validator, value: Any) -> str | None:
    error = next(iter(sorted(check.iter_errors(value), key=lambda e: list(e.path))), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return f"{'at ' + where + ': ' if where else ''}{message}"


@cache
def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path template, operation object)."""
    found = {}
    for path, item in openapi_document().get("paths", {}).items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = (method.upper(), path, op)
    return found


OFFICIAL_DESCRIPTION = "cloudflare-realtimekit-openapi.yaml"  # beside openapi/realtimekit.yaml
_TEMPLATE = re.compile(r"\{[^}]*\}")


def _shape(path: str) -> str:
    # The two descriptions name some path parameters differently.
    return _TEMPLATE.sub("{}", path.rstrip("/"))


@cache
def _official_statuses() -> dict[tuple[str, str], frozenset[str]]:
    document = yaml.safe_load(openapi_path().with_name(OFFICIAL_DESCRIPTION).read_text(encoding="utf-8"))
    return {
        (method.upper(), _shape(path)): frozenset(str(s) for s in (op.get("responses") or {}))
        for path, item in (document.get("paths") or {}).items()
        for method, op in item.items()
        if isinstance(op, dict)
    }


def officially_documented(operation_id: str, status: int) -> bool:
    """Whether Cloudflare's own description lists `status` for this operation. An error status
    it does not list is one of the suite's additions: its body is judged by API-03 (SHOULD),
    not as a MUST."""
    method, path, _ = operations()[operation_id]
    return str(status) in _official_statuses().get((method, _shape(path)), frozenset())


def response_problem(operation_id: str, status: int, body: Any, content_type: str) -> str | None:
    """Why a response breaks the description of `operation_id`, or None if it conforms."""
    document = openapi_document()
    method, path, op = operations()[operation_id]
    responses = op.get("responses", {})
    spec = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    if spec is None:
        return f"{method} {path}: status {status} is not documented (documented: {', '.join(sorted(responses))})"
    content = deref(document, spec).get("content") or {}
    if not content:
        return None
    if "application/json" in content:
        if "json" not in content_type:
            return f"{method} {path} {status}: content type {content_type!r}, documented application/json"
        schema = content["application/json"].get("schema")
        if schema is not None:
            problem = first_error(_cached_validator(operation_id, str(status)), body)
            if problem:
                return f"{method} {path} {status}: body does not match the schema: {problem}"
    return None


@cache
def _cached_validator(operation_id: str, status: str) -> Draft202012Validator:
    document = openapi_document()
    _, _, op = operations()[operation_id]
    responses = op["responses"]
    spec = deref(document, responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default"))
    return validator(spec["content"]["application/json"]["schema"], document)
