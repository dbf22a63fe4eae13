"""Does this answer match the description? The one judge of API-01 for an answer's status,
media type and body, in every phase: schemathesis' own response checks, the ones the fuzz
phase's `st` runs (fuzz/checks.py maps their failures), over openapi/realtimekit.yaml.

The scenarios hand over what they saw (status, content type, parsed body); no second JSON
Schema validator, and no format rules kept in line by hand.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from conformance.fuzz.checks import documents_status
from conformance.resources import openapi_path

# schemathesis is imported on first use, not with this module: every engine collects
# scenarios/test_api.py, and most runs (each selftest fault's) never call this judge
# (measured: ~0.3 s of start-up per engine process).

__all__ = ["officially_documented", "response_problem"]

_PATH_PARAMETER = re.compile(r"\{([^}]*)\}")
MESSAGE_CHARS = 300


def officially_documented(operation_id: str, status: int) -> bool:
    """Whether Cloudflare's own description lists `status` for this operation. An error status
    it does not list is one of the suite's additions: its body is judged by API-03 (SHOULD),
    not as a MUST. (The fuzz phase asks the same question of the same table.)"""
    operation = _schemathesis_schema().find_operation_by_id(operation_id)
    return documents_status(f"{operation.method.upper()} {operation.path}", status)


@cache
def _schemathesis_schema() -> Any:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    # The file the fuzz phase's `st` reads, with schemathesis' defaults rather than whatever
    # schemathesis.toml the working directory holds (formats validated, no hooks).
    return schemathesis.openapi.from_path(openapi_path(), config=SchemathesisConfig())


def _response_checks() -> list[Any]:
    """The checks fuzz/checks.py counts against API-01 for status, media type and body
    (response_headers_conformance is left out: the caller hands over the content type only)."""
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [status_code_conformance, content_type_conformance, response_schema_conformance]


def warm() -> None:
    """Load schemathesis and the description ahead of the first judgement (conformance/forkserver.py)."""
    _schemathesis_schema()
    _response_checks()


def response_problem(operation_id: str, status: int, body: Any, content_type: str) -> str | None:
    """Why a response breaks the description of `operation_id`, or None if it conforms.

    `body` is the parsed JSON body (None: none, or not JSON); it is serialised again for
    schemathesis, which reads bytes.
    """
    import requests
    from schemathesis.core.failures import Failure, FailureGroup
    from schemathesis.core.transport import Response

    operation = _schemathesis_schema().find_operation_by_id(operation_id)
    content = b"" if body is None else json.dumps(body).encode()
    response = Response(
        status_code=status,
        headers={"content-type": [content_type]} if content_type else {},
        content=content,
        request=requests.Request(operation.method.upper(), "http://target.invalid/").prepare(),
        elapsed=0.0,
        verify=True,
    )
    # Only the answer is judged; the path parameters just let schemathesis describe the request.
    case = operation.Case(path_parameters={name: "x" for name in _PATH_PARAMETER.findall(operation.path)})
    try:
        case.validate_response(response, checks=_response_checks())
    except FailureGroup as group:
        return _describe(operation.label, status, group.exceptions)
    except Failure as failure:
        return _describe(operation.label, status, [failure])
    return None


def _describe(label: str, status: int, failures: Any) -> str:
    found = "; ".join(f"{f.title}: {_gist(f.message)}" for f in failures)
    found = " ".join(found.split())
    return f"{label} {status}: {found if len(found) <= MESSAGE_CHARS else found[:MESSAGE_CHARS] + '…'}"


def _gist(message: str) -> str:
    # A schemathesis message goes on to print the schema and the value; its first paragraph
    # says what is wrong (and the next one, when the first ends in a colon).
    paragraphs = message.split("\n\n")
    if paragraphs[0].endswith(":") and len(paragraphs) > 1:
        return f"{paragraphs[0]} {paragraphs[1]}"
    return paragraphs[0]
