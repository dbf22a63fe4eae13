"""Where the documents a run needs live: in a checkout, or inside an installed wheel.

A wheel carries `openapi/` and `contracts/pacts/` under `conformance/_bundled/` (see
pyproject's force-include); a checkout or editable install reads them from the repo root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_PACKAGE = Path(__file__).resolve().parent


def _find(*parts: str) -> Path:
    for root in (_PACKAGE / "_bundled", _PACKAGE.parent):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{'/'.join(parts)} is neither bundled nor in a checkout")


def openapi_path() -> Path:
    return _find("openapi", "realtimekit.yaml")


def asyncapi_path() -> Path:
    return _find("openapi", "realtimekit-asyncapi.yaml")


def pacts_dir() -> Path:
    try:
        return _find("pacts")
    except FileNotFoundError:
        return _find("contracts", "pacts")


# libyaml's safe loader when PyYAML was built with it: the same documents, read ~6x faster
# (measured: the suite's description 0.21 -> 0.03 s, Cloudflare's 0.34 -> 0.06 s, in every
# engine process that reads them).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> object:
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SAFE_LOADER)  # a safe loader, the C or the Python one


@cache
def openapi_document() -> dict:
    return read_yaml(openapi_path())  # type: ignore[return-value]


@cache
def operation_ids() -> tuple[str, ...]:
    """Every operationId of the suite's description, in document order."""
    return tuple(
        operation["operationId"]
        for item in openapi_document().get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    )
