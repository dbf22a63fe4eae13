"""Which implementation a run talks to: a configured one, or the embedded reference.

With no `target.base_url` configured, a run starts the bundled reference implementation on
a free loopback port (test clock on, so timer checks need no real waiting) and points the
configuration at it. `--reference-fault NAME` starts it with a fault switched on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from conformance.config import RunConfig, load_config
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


# What is known of the embedded reference's timing (3 s delivery timeout, 1 s first backoff;
# on loopback an event or delivery follows its cause within milliseconds, so 3 s is a wide
# margin, and every "nothing happens" window, which lasts the event timeout, stays short);
# a user's own setting still wins.
# The embedded reference has no rate limit of its own (and is not shared), so the suite's
# budget there only slows the run down.
EMBEDDED_DEFAULTS = {
    "RTKC_WEBHOOK_RETRY_SECONDS": "10",
    "RTKC_REQUESTS_PER_10S": "5000",
    "RTKC_EVENT_TIMEOUT_SECONDS": "3",
}


def start_embedded(faults: tuple[str, ...] = (), host_grace_seconds: float = 900.0) -> ThreadedServer:
    settings = ReferenceSettings(test_clock=True, faults=faults, host_grace_seconds=host_grace_seconds)
    return ThreadedServer(settings).start()


def resolve(
    config_path: Path | None,
    overrides: Mapping[str, object],
    faults: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
) -> tuple[RunConfig, ThreadedServer | None]:
    """The run's configuration, starting the embedded reference when no target is configured."""
    env = dict(os.environ if env is None else env)
    config = load_config(config_path, env, overrides)
    if config.target.base_url and not faults:
        return config, None
    if config.target.base_url and faults:
        from conformance.errors import ConfigError

        raise ConfigError("--reference-fault only applies to the embedded reference; drop target.base_url")
    server = start_embedded(faults, config.time.host_grace_seconds)
    # A time control chosen explicitly wins: the late selftest drives the reference without its
    # test clock, as a target that has none.
    chosen_time = env.get("RTKC_TIME_CONTROL")
    env.update(embedded_env(server))
    if chosen_time:
        env["RTKC_TIME_CONTROL"] = chosen_time
    # Pin the claim made for the embedded reference (chosen, or every profile), which a load
    # with a base URL would otherwise narrow to the documented default.
    env["RTKC_PROFILES"] = ",".join(config.target.profiles)
    for name, value in EMBEDDED_DEFAULTS.items():
        env.setdefault(name, value)
    try:
        return load_config(config_path, env, overrides), server
    except BaseException:
        server.stop()
        raise
