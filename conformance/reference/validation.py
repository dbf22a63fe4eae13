"""Request validation against openapi/realtimekit.yaml: the document is the only source of truth.

Routes name their operationId; this module finds that operation's request-body and query
parameter schemas in the document and checks the request against them, so bad input gets a
400 with the error envelope instead of reaching the state machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.resources import openapi_document

_ROOT = "urn:realtimekit-openapi"
_METHODS = ("get", "put", "post", "patch", "delete")

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
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    return parsed.tzinfo is not None


@FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlparse(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value


class RequestInvalid(Exception):
    """The request does not match its operation in the OpenAPI description."""


@dataclass
class _Param:
    name: str
    required: bool
    validator: Draft202012Validator
    schema: dict[str, Any]


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    body: Draft202012Validator | None = None
    body_required: bool = False
    query: dict[str, _Param] = field(default_factory=dict)


class RequestValidator:
    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.document = document or openapi_document()
        registry = Registry().with_resource(
            _ROOT, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        self.operations: dict[str, Operation] = {}
        for path, item in self.document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method not in item:
                    continue
                op = item[method]
                operation = Operation(op["operationId"], method.upper(), path)
                for param in shared + op.get("parameters", []):
                    param = self._deref(param)
                    if param.get("in") != "query":
                        continue
                    schema = param.get("schema", {})
                    operation.query[param["name"]] = _Param(
                        param["name"],
                        bool(param.get("required")),
                        self._validator(schema, registry),
                        self._deref(schema),
                    )
                body = op.get("requestBody")
                if body:
                    body = self._deref(body)
                    schema = body["content"]["application/json"]["schema"]
                    operation.body = self._validator(schema, registry)
                    operation.body_required = bool(body.get("required"))
                self.operations[operation.operation_id] = operation

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    @staticmethod
    def _validator(schema: dict[str, Any], registry: Registry) -> Draft202012Validator:
        # Local "#/components/..." refs must resolve against the whole document.
        wrapped = {"$ref": f"{_ROOT}#"} if schema is None else _rebase(schema)
        return Draft202012Validator(wrapped, registry=registry, format_checker=FORMATS)

    def operation(self, operation_id: str) -> Operation:
        return self.operations[operation_id]

    def body(self, operation_id: str, body: Any, *, present: bool) -> None:
        op = self.operations[operation_id]
        if op.body is None:
            return
        if not present:
            if op.body_required:
                raise RequestInvalid("a JSON request body is required")
            return
        _check(op.body, body, "body")

    def query(self, operation_id: str, raw: dict[str, str]) -> dict[str, Any]:
        """Coerce query strings to their schema types, validate, and return them."""
        op = self.operations[operation_id]
        values: dict[str, Any] = {}
        for name, param in op.query.items():
            if name not in raw:
                if param.required:
                    raise RequestInvalid(f"query parameter {name} is required")
                continue
            value = _coerce(raw[name], param.schema)
            _check(param.validator, value, f"query parameter {name}")
            values[name] = value
        return values


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (f"{_ROOT}{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    try:
        if "integer" in kinds:
            return int(raw)
        if "number" in kinds:
            return float(raw)
        if "boolean" in kinds:
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError):
        return raw  # let the schema reject it with a readable message
    return raw


def _check(validator: Draft202012Validator, value: Any, what: str) -> None:
    error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path)
    location = f"{what}{' at ' + where if where else ''}"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    raise RequestInvalid(f"{location}: {message}")
