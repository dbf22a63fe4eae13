"""JSON Schema validators for pieces of openapi/realtimekit.yaml (OpenAPI 3.1 = JSON Schema
2020-12), for the reference implementation's request validation (reference/validation.py).

`#/components/...` references inside a piece resolve against the whole document. Answers are
not judged here: that is conformance.response_conformance, through schemathesis.

Why requests keep a validator of their own (python-jsonschema): the reference's 400 message
is this validator's first error, worded for a person. Its formats must still judge as
schemathesis does (the fuzzer's valid input accepted, its invalid input refused): `uri` is
asked of jsonschema_rs, schemathesis' own validator; `uuid` and `date-time` are written out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

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
