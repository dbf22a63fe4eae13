"""Which implementation a run talks to: a configured one, or the embedded reference.

With no `target.base_url` configured, each test process of a run starts the bundled reference
implementation on a free loopback port (test clock on unless time.control says otherwise, so
timer checks need no real waiting) and points the run plan's configuration at it.
`--reference-fault NAME` starts it with a fault switched on.
"""

from __future__ import annotations

from dataclasses import replace

from conformance.config import ENV_NAMES, OtherAccountConfig, RunConfig, TokensConfig
from conformance.plan import EMBEDDED_DEFAULTS as PLAN_DEFAULTS
from conformance.reference.app import ReferenceSettings
from conformance.reference.server import ThreadedServer, announcement


def embedded_env(server: ThreadedServer) -> dict[str, str]:
    """The RTKC_* settings that describe a running reference server."""
    assert server.reference is not None and server.endpoints is not None
    info = announcement(server.reference, server.endpoints)
    return {
        "RTKC_BASE_URL": info["base_url"],
        "RTKC_ACCOUNT_ID": info["account_id"],
        "RTKC_APP_ID": info["app_id"],
        "RTKC_REALTIME_URL": info["realtime_url"],
        "RTKC_WEBHOOK_PUBLIC_KEY_URL": info["webhook_public_key_url"],
        "RTKC_ADMIN_TOKEN": info["api_token"],
        "RTKC_READONLY_TOKEN": info["readonly_token"],
        "RTKC_NO_PERMISSION_TOKEN": info["no_permission_token"],
        "RTKC_OTHER_ACCOUNT_ID": info["other_account"]["account_id"],
        "RTKC_OTHER_APP_ID": info["other_account"]["app_id"],
        "RTKC_OTHER_TOKEN": info["other_account"]["api_token"],
        "RTKC_TIME_CONTROL": "test-clock",
        "RTKC_DRIVER": "websocket",
    }


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
        assert server.reference is not None and server.endpoints is not None
        info = announcement(server.reference, server.endpoints)
        other = info["other_account"]
        embedded = replace(
            config,
            target=replace(
                config.target,
                base_url=info["base_url"],
                account_id=info["account_id"],
                app_id=info["app_id"],
                realtime_url=info["realtime_url"],
                webhook_public_key_url=info["webhook_public_key_url"],
            ),
            tokens=TokensConfig(
                admin=info["api_token"], readonly=info["readonly_token"], no_permission=info["no_permission_token"]
            ),
            other_account=OtherAccountConfig(
                account_id=other["account_id"], app_id=other["app_id"], token=other["api_token"]
            ),
        )
    except BaseException:
        server.stop()
        raise
    return embedded, server
