"""Which implementation a run talks to: a configured one, or the embedded reference.

With no `target.base_url` configured, each test process of a run starts the bundled reference
implementation on a free loopback port (test clock on unless time.control says otherwise, so
timer checks need no real waiting) and points the run plan's configuration at it.
`--reference-fault NAME` starts it with a fault switched on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.config import ENV_NAMES, SECRET_NAMES, OtherAccountConfig, RunConfig, TokensConfig
from conformance.plan import EMBEDDED_DEFAULTS as PLAN_DEFAULTS
from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer, announcement

# Where the reference's ready line (reference.server.announcement) holds each setting that
# describes the server: what `embed` fills in and `embedded_env` hands to a configured run.
_DESCRIBED_BY = {
    "target.base_url": ("base_url",),
    "target.account_id": ("account_id",),
    "target.app_id": ("app_id",),
    "target.realtime_url": ("realtime_url",),
    "target.webhook_public_key_url": ("webhook_public_key_url",),
    "tokens.admin": ("api_token",),
    "tokens.readonly": ("readonly_token",),
    "tokens.no_permission": ("no_permission_token",),
    "other_account.account_id": ("other_account", "account_id"),
    "other_account.app_id": ("other_account", "app_id"),
    "other_account.token": ("other_account", "api_token"),
}


def _described(server: ThreadedServer) -> dict[str, str]:
    """The settings that describe a running reference server, by dotted key."""
    assert server.reference is not None and server.endpoints is not None
    info = announcement(server.reference, server.endpoints)
    out = {}
    for key, path in _DESCRIBED_BY.items():
        value: Any = info
        for part in path:
            value = value[part]
        out[key] = value
    return out


def _table(described: dict[str, str], table: str) -> dict[str, str]:
    return {key.split(".")[1]: value for key, value in described.items() if key.startswith(table + ".")}


def embedded_env(server: ThreadedServer) -> dict[str, str]:
    """The RTKC_* settings that describe a running reference server."""
    variables = {ENV_NAMES.get(key) or SECRET_NAMES[key]: value for key, value in _described(server).items()}
    return {**variables, "RTKC_TIME_CONTROL": "test-clock", "RTKC_DRIVER": "websocket"}


# The embedded reference's defaults (plan.EMBEDDED_DEFAULTS) as variables, for tests that point
# a configured run at a reference they started themselves.
EMBEDDED_DEFAULTS = {ENV_NAMES[key]: str(value) for key, value in PLAN_DEFAULTS.items()}


def start_embedded(
    faults: tuple[str, ...] = (), host_grace_seconds: float = 900.0, test_clock: bool = True
) -> ThreadedServer:
    settings = ReferenceSettings(test_clock=test_clock, faults=faults, host_grace_seconds=host_grace_seconds)
    return ThreadedServer(settings).start()


def embed(config: RunConfig, faults: tuple[str, ...] = ()) -> tuple[RunConfig, ThreadedServer]:
    """Start the embedded reference as the plan describes it, and point the configuration at it.

    Only what describes the server (URLs, ids, tokens) is filled in: the plan refused any such
    setting of the user's (plan.resolve), and everything else (driver, time control, limits)
    is the plan's as resolved.
    """
    server = start_embedded(faults, config.time.host_grace_seconds, test_clock=config.time.control == "test-clock")
    try:
        described = _described(server)
        embedded = replace(
            config,
            target=replace(config.target, **_table(described, "target")),
            tokens=TokensConfig(**_table(described, "tokens")),
            other_account=OtherAccountConfig(**_table(described, "other_account")),
        )
    except BaseException:
        server.stop()
        raise
    return embedded, server
