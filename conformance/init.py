"""`conformance init`: a commented target.toml and a git-ignored secrets folder, written for a
base URL or for a running `conformance serve` (its JSON ready line), claiming only what can
reach a verdict.

The file is `config.EXAMPLE_TOML` with values filled in, so every setting keeps its comment.
Tokens go to files under secrets/ (named by the TOML, relative to it), never into the TOML.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.catalogue import DOCUMENTED_PROFILES
from conformance.config import EXAMPLE_TOML
from conformance.errors import ConfigError

SECRETS = "secrets"
DEFAULT_PROFILES = list(DOCUMENTED_PROFILES)  # what RealtimeKit documents; classroom is opt-in
# Without a test clock the keep-alive checks (LEAVE-04, session profile) wait out a 60 s
# timer in real time: the budget must cover it and the check deadline must cover the wait.
REAL_TIME_BUDGET = 70
SLOW_CHECK_TIMEOUT = 150
# `conformance serve` on this machine (a loopback base URL) is the bundled reference: its timing
# is known, so the defaults, sized for an unknown server across a network, only slow the run.
# An event or a webhook follows its cause within milliseconds there, so 3 s is a wide margin
# (and each "nothing happens" window lasts the event timeout); its first webhook retry comes
# 1 s after a failed delivery (backoff 1, 2, 4 ... s), inside 10 s. The same values as the
# embedded reference's. Elsewhere the defaults stay (RealtimeKit publishes no retry schedule).
LOOPBACK_SERVE = {"limits.event_timeout_seconds": 3, "limits.webhook_retry_seconds": 10}
# serve has no rate limit unless started with --requests-per-10s (its ready line says which):
# without one the budget only paces the run; with one, keep the default's margin (200 of 250).
UNLIMITED_BUDGET = 5000
BUDGET_SHARE = 0.8

_LINE = re.compile(r'^(?:# )?(?P<key>\w+) = (?P<value>"[^"]*"|\[[^\]]*\]|[^\s#]+)(?P<rest>.*)$')


@dataclass
class Plan:
    values: dict[str, Any] = field(default_factory=dict)  # "section.key" → value; None comments it out
    secrets: dict[str, str] = field(default_factory=dict)  # file name under secrets/ → token
    notes: list[str] = field(default_factory=list)  # printed after writing: what is left to do


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def render(values: dict[str, Any]) -> str:
    """EXAMPLE_TOML with `values` put in place (a None value comments its line out)."""
    section, out, pending = "", [], dict(values)
    for line in EXAMPLE_TOML.splitlines():
        header = re.match(r"^\[(\w+)\]", line)
        if header:
            section = header.group(1)
        match = _LINE.match(line)
        key = f"{section}.{match.group('key')}" if match and section else (match.group("key") if match else "")
        if match and key in pending:
            value = pending.pop(key)
            line = (
                f"# {match.group('key')} = {match.group('value')}{match.group('rest')}"
                if value is None
                else f"{match.group('key')} = {_toml(value)}{match.group('rest')}"
            )
        out.append(line)
    if pending:
        raise AssertionError(f"not in EXAMPLE_TOML: {', '.join(pending)}")  # a bug in this module
    return "\n".join(out) + "\n"


def read_ready_line(text: str) -> dict[str, Any]:
    """The JSON object `conformance serve` prints when ready (other lines are skipped)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and "base_url" in data:
                return data
    raise ConfigError("no ready line found: expected the JSON line `conformance serve` prints (with base_url)")


def _timing(plan: Plan, test_clock: bool) -> None:
    if test_clock:
        plan.values["time.control"] = "test-clock"
    else:
        plan.values["time.real_time_budget_seconds"] = REAL_TIME_BUDGET
        plan.values["limits.check_timeout_seconds"] = SLOW_CHECK_TIMEOUT
        plan.notes.append(
            f"no test clock: the keep-alive checks wait {REAL_TIME_BUDGET - 10} s of real time each "
            "(time.real_time_budget_seconds); with POST /_conformance/clock/advance set time.control"
        )


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pace(plan: Plan, ready: dict[str, Any]) -> None:
    """Timeouts and request budget for what the ready line says the server is and allows."""
    if _is_loopback(ready["base_url"]):
        plan.values.update(LOOPBACK_SERVE)
    limit = ready.get("requests_per_10s")
    plan.values["limits.requests_per_10s"] = int(limit * BUDGET_SHARE) if limit else UNLIMITED_BUDGET


def from_serve(ready: dict[str, Any], classroom: bool = False) -> Plan:
    """Everything the ready line says, in the configuration; its tokens in secrets/."""
    plan = Plan()
    other = ready.get("other_account") or {}
    plan.values.update(
        {
            "target.base_url": ready["base_url"],
            "target.account_id": ready["account_id"],
            "target.app_id": ready["app_id"],
            "target.realtime_url": ready.get("realtime_url"),
            "target.webhook_public_key_url": ready.get("webhook_public_key_url"),
            "target.description": "conformance serve (the bundled reference, as an external target)",
            "tokens.admin_file": f"{SECRETS}/admin-token",
        }
    )
    plan.secrets["admin-token"] = ready["api_token"]
    for key, name in (("readonly_token", "readonly"), ("no_permission_token", "no-permission")):
        if ready.get(key):
            plan.secrets[f"{name}-token"] = ready[key]
            plan.values[f"tokens.{name.replace('-', '_')}_file"] = f"{SECRETS}/{name}-token"
    if other.get("api_token"):
        plan.secrets["other-token"] = other["api_token"]
        plan.values.update(
            {
                "other_account.account_id": other["account_id"],
                "other_account.app_id": other["app_id"],
                "other_account.token_file": f"{SECRETS}/other-token",
            }
        )
    test_clock = bool(ready.get("test_clock"))
    _timing(plan, test_clock)
    _pace(plan, ready)
    profiles = list(DEFAULT_PROFILES)
    if classroom:
        if not test_clock:
            raise ConfigError("classroom needs a test clock (its host grace is 900 s): start serve with --test-clock")
        profiles.append("classroom")
        plan.values["time.host_grace_seconds"] = ready.get("host_grace_seconds", 900)
    plan.values["target.profiles"] = profiles
    plan.notes.append("serve makes new tokens on every start unless RTK_REFERENCE_*_TOKEN are set: run init again then")
    return plan


def from_base_url(
    base_url: str,
    account_id: str,
    app_id: str,
    realtime_url: str | None,
    test_clock: bool,
    env: dict[str, str],
) -> Plan:
    """A configuration for your own server; tokens from RTKC_*_TOKEN if set, else to fill in."""
    plan = Plan()
    plan.values.update(
        {
            "target.base_url": base_url,
            "target.account_id": account_id,
            "target.app_id": app_id,
            "target.realtime_url": realtime_url,
            "target.webhook_public_key_url": None,  # default: origin of base_url + /.well-known/webhooks.json
            "target.description": f"implementation at {base_url}",
            "tokens.admin_file": f"{SECRETS}/admin-token",
        }
    )
    if env.get("RTKC_ADMIN_TOKEN"):
        plan.secrets["admin-token"] = env["RTKC_ADMIN_TOKEN"]
    else:
        plan.notes.append(f"put your admin API token in {SECRETS}/admin-token (one line)")
    _timing(plan, test_clock)
    # Without a realtime endpoint no participant can join: only the REST profile reaches a verdict.
    plan.values["target.profiles"] = DEFAULT_PROFILES if realtime_url else ["api"]
    if not realtime_url:
        plan.notes.append("no --realtime-url: only the api profile is claimed (the others need participants)")
    return plan


def write(plan: Plan, folder: Path, force: bool = False) -> list[Path]:
    """target.toml and secrets/ (mode 700, its own .gitignore) in `folder`; the files written."""
    target = folder / "target.toml"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists; use --force to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    secrets = folder / SECRETS
    secrets.mkdir(mode=0o700, exist_ok=True)
    # Ignored by git wherever the folder lands, whatever the project's own .gitignore says.
    (secrets / ".gitignore").write_text("*\n", encoding="utf-8")
    written = [target]
    for name, token in plan.secrets.items():
        path = secrets / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
        written.append(path)
    target.write_text(render(plan.values), encoding="utf-8")
    return written
