"""Request validation against openapi/realtimekit.yaml: the document is the only source of truth.

Routes name their operationId; this module finds that operation's request-body and query
parameter schemas in the document and checks the request against them, so bad input gets a
400 with the error envelope instead of reaching the state machine.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from conformance.openapi_schema import deref, first_error, validator
from conformance.resources import openapi_document

_METHODS = ("get", "put", "post", "patch", "delete")


class RequestInvalid(Exception):
    """The request does not match its operation in the OpenAPI description."""


MAX_JSON_DEPTH = 64


def strict_json(raw: bytes | str) -> Any:
    """`json.loads`, refusing what could not be stored and sent back out as JSON again.

    Python's parser accepts `NaN`/`Infinity`, numbers that overflow to infinity, and
    escaped lone surrogates, and recurses on nesting; each of those would otherwise fail
    later, when the value is encoded for storage or an answer. Raises ValueError.
    """
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _utf8(node)
            continue
        if isinstance(node, dict):
            for key in node:
                _utf8(key)
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def _utf8(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate: not valid Unicode") from None


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
                        validator(schema, self.document),
                        self._deref(schema),
                    )
                body = op.get("requestBody")
                if body:
                    body = self._deref(body)
                    schema = body["content"]["application/json"]["schema"]
                    operation.body = validator(schema, self.document)
                    operation.body_required = bool(body.get("required"))
                self.operations[operation.operation_id] = operation

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        return deref(self.document, node)

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


def _coerce(raw: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds:
        # Cloudflare's array query parameters are `explode: false`: one comma-separated value
        # (an empty value is the empty array)
        return [_coerce(item, schema.get("items", {})) for item in raw.split(",")] if raw else []
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


def _check(check: Draft202012Validator, value: Any, what: str) -> None:
    problem = first_error(check, value)
    if problem:
        raise RequestInvalid(f"{what} {problem}")
