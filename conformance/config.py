"""Target configuration: one frozen tree, built from flags > environment > TOML file > defaults.

Tokens are the exception to that order: they come only from environment variables or
from files named in the environment / TOML (`*_file`), never from the command line (shell
history, process lists) and never literally from the TOML file (config files get committed).
"""

from __future__ import annotations

import difflib
import os
import secrets as _random
import shlex
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.catalogue import DOCUMENTED_PROFILES, PROFILES
from conformance.errors import ConfigError
from conformance.redaction import REDACTED
from conformance.resources import operation_ids

__all__ = [
    "EXAMPLE_TOML",
    "DriverConfig",
    "FuzzConfig",
    "LimitsConfig",
    "OtherAccountConfig",
    "PactConfig",
    "PresetsConfig",
    "RunConfig",
    "TargetConfig",
    "TimeConfig",
    "TokensConfig",
    "WebhooksConfig",
    "load_config",
]

UNSET = "[unset]"


# -- the tree -----------------------------------------------------------------------------
# Token fields use repr=False so a stray `print(config)` cannot leak them.


@dataclass(frozen=True)
class TargetConfig:
    base_url: str | None = None
    account_id: str | None = None
    app_id: str | None = None
    realtime_url: str | None = None
    webhook_public_key_url: str | None = None
    description: str = ""
    # Unless chosen: what RealtimeKit documents for a configured target; every profile for the
    # embedded reference, which implements (and so claims) the opt-in `classroom` too.
    profiles: tuple[str, ...] = DOCUMENTED_PROFILES


@dataclass(frozen=True)
class TokensConfig:
    admin: str | None = field(default=None, repr=False)
    readonly: str | None = field(default=None, repr=False)
    no_permission: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class OtherAccountConfig:
    account_id: str | None = None
    app_id: str | None = None
    token: str | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        """All three are needed for the tenant-isolation check."""
        return bool(self.account_id and self.app_id and self.token)


@dataclass(frozen=True)
class PresetsConfig:
    # None: the suite creates its own presets through the API.
    host: str | None = None
    participant: str | None = None


@dataclass(frozen=True)
class DriverConfig:
    kind: str = "websocket"
    bridge_command: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhooksConfig:
    listen: str = "127.0.0.1:0"
    # None: derived from the address the receiver actually binds.
    public_url: str | None = None

    @property
    def listen_host(self) -> str:
        return _split_listen(self.listen, "webhooks.listen")[0]

    @property
    def listen_port(self) -> int:
        return _split_listen(self.listen, "webhooks.listen")[1]


@dataclass(frozen=True)
class TimeConfig:
    control: str = "none"
    real_time_budget_seconds: float = 0.0
    host_grace_seconds: float = 900.0


@dataclass(frozen=True)
class LimitsConfig:
    requests_per_10s: int = 200
    request_timeout_seconds: float = 10.0
    check_timeout_seconds: float = 60.0
    run_deadline_seconds: float = 1800.0
    event_timeout_seconds: float = 5.0
    # How long a webhook retry may take to come (RealtimeKit documents no schedule).
    webhook_retry_seconds: float = 60.0


@dataclass(frozen=True)
class FuzzConfig:
    # The fuzz phase (conformance/fuzz): None = pick a random seed and print it.
    seed: int | None = None
    examples: int | None = None  # per operation; None = the preset's
    time_seconds: float | None = None  # None = the preset's (default: bounded by examples only)
    preset: str = "default"  # or "nightly"
    # Operation ids of openapi/realtimekit.yaml to fuzz; empty = every operation.
    operations: tuple[str, ...] = ()


@dataclass(frozen=True)
class PactConfig:
    # Publishing verification results to a Pact Broker (the contracts phase); off by default.
    broker_url: str | None = None
    broker_token: str | None = field(default=None, repr=False)
    publish: bool = False
    provider_version: str | None = None


@dataclass(frozen=True)
class RunConfig:
    target: TargetConfig = field(default_factory=TargetConfig)
    tokens: TokensConfig = field(default_factory=TokensConfig)
    other_account: OtherAccountConfig = field(default_factory=OtherAccountConfig)
    presets: PresetsConfig = field(default_factory=PresetsConfig)
    driver: DriverConfig = field(default_factory=DriverConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    pact: PactConfig = field(default_factory=PactConfig)
    fuzz: FuzzConfig = field(default_factory=FuzzConfig)
    run_id: str = ""
    reports_dir: Path = Path("reports")

    @property
    def api_origin(self) -> str | None:
        """scheme://host[:port] of base_url, where out-of-band endpoints (test clock) live."""
        return _origin(self.target.base_url) if self.target.base_url else None

    def secrets(self) -> list[str]:
        """Every token in the configuration, for the Redactor."""
        candidates = (
            self.tokens.admin,
            self.tokens.readonly,
            self.tokens.no_permission,
            self.other_account.token,
            self.pact.broker_token,
        )
        return [t for t in candidates if t]

    def redacted(self) -> dict[str, Any]:
        """The whole configuration as JSON-able data, tokens shown only as set or unset."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                out[f.name] = str(value)
            elif f.name in _SECRET_TABLES:
                out[f.name] = {k: _mask(v) if (f.name, k) in _SECRET_FIELDS else v for k, v in asdict(value).items()}
            elif hasattr(value, "__dataclass_fields__"):
                out[f.name] = {k: _jsonable(v) for k, v in asdict(value).items()}
            else:
                out[f.name] = value
        return out


def _mask(value: object) -> str:
    return REDACTED if value else UNSET


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


# -- value parsers: (raw value, where it came from) -> typed value --------------------------


def _str(raw: object, where: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: expected a string, got {type(raw).__name__} {raw!r}")
    return raw.strip()


def _opt_str(raw: object, where: str) -> str | None:
    return _str(raw, where) or None


def _http_url(raw: object, where: str) -> str:
    url = _str(raw, where).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: expected an http:// or https:// URL, got {url!r}")
    return url


def _ws_url(raw: object, where: str) -> str:
    url = _str(raw, where).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"{where}: expected a ws:// or wss:// URL, got {url!r}")
    return url


def _number(raw: object, where: str, *, integer: bool, minimum: float, strict: bool) -> float:
    if isinstance(raw, bool) or (integer and isinstance(raw, float) and not raw.is_integer()):
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{where}: expected {kind}, got {raw!r}")
    try:
        value = (int if integer else float)(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{where}: expected {kind}, got {raw!r}") from None
    if value < minimum or (strict and value == minimum):
        relation = "above" if strict else "at least"
        raise ConfigError(f"{where}: must be {relation} {minimum:g}, got {value!r}")
    return value


def _positive_int(raw: object, where: str) -> int:
    return int(_number(raw, where, integer=True, minimum=0, strict=True))


def _positive_float(raw: object, where: str) -> float:
    return _number(raw, where, integer=False, minimum=0, strict=True)


def _non_negative_float(raw: object, where: str) -> float:
    return _number(raw, where, integer=False, minimum=0, strict=False)


def _choice(*allowed: str) -> Callable[[object, str], str]:
    def parse(raw: object, where: str) -> str:
        value = _str(raw, where)
        if value not in allowed:
            raise ConfigError(f"{where}: expected one of {', '.join(allowed)}; got {value!r}")
        return value

    return parse


def _str_list(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
        raise ConfigError(f"{where}: expected a list of strings, got {raw!r}")
    return tuple(raw)


def _profiles(raw: object, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [p.strip() for p in raw.split(",") if p.strip()]
    chosen = _str_list(raw, where)
    unknown = [p for p in chosen if p not in PROFILES]
    if unknown:
        raise ConfigError(f"{where}: unknown profile(s) {', '.join(unknown)}; allowed: {', '.join(PROFILES)}")
    if not chosen:
        raise ConfigError(f"{where}: no profile chosen; allowed: {', '.join(PROFILES)}")
    return tuple(dict.fromkeys(chosen))  # drop repeats, keep order


def _operation_ids(raw: object, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [p.strip() for p in raw.split(",") if p.strip()]
    chosen = _str_list(raw, where)
    if not chosen:
        return ()  # every operation; the description is not read
    known = operation_ids()
    unknown = [o for o in chosen if o not in known]
    if unknown:
        hints = [
            f"{o} (did you mean {close[0]}?)" if (close := difflib.get_close_matches(o, known, 1)) else o
            for o in unknown
        ]
        raise ConfigError(f"{where}: no operation {', '.join(hints)} in openapi/realtimekit.yaml")
    return tuple(dict.fromkeys(chosen))


def _command(raw: object, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        try:
            raw = shlex.split(raw)
        except ValueError as exc:
            raise ConfigError(f"{where}: cannot split {raw!r} like a shell would: {exc}") from None
    return _str_list(raw, where)


def _split_listen(value: str, where: str) -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")  # "[::1]:0" style IPv6
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"{where}: expected host:port such as 127.0.0.1:0, got {value!r}")
    return host, int(port_text)


def _listen(raw: object, where: str) -> str:
    value = _str(raw, where)
    _split_listen(value, where)
    return value


def _run_id(raw: object, where: str) -> str:
    value = _str(raw, where)
    # The run id names files under reports_dir.
    if not value or not all(c.isalnum() or c in "-_." for c in value):
        raise ConfigError(f"{where}: use only letters, digits, '-', '_' and '.', got {value!r}")
    return value


def _bool(raw: object, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return text in ("true", "1", "yes", "on")
    raise ConfigError(f"{where}: expected true or false, got {raw!r}")


def _seed(raw: object, where: str) -> int:
    return int(_number(raw, where, integer=True, minimum=0, strict=False))


def _path(raw: object, where: str) -> Path:
    return Path(_str(raw, where)).expanduser()


# -- the schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    key: str  # "table.name", or "name" for top-level keys
    env: str | None
    parse: Callable[[object, str], Any]


_FIELDS: tuple[_Field, ...] = (
    _Field("target.base_url", "RTKC_BASE_URL", _http_url),
    _Field("target.account_id", "RTKC_ACCOUNT_ID", _opt_str),
    _Field("target.app_id", "RTKC_APP_ID", _opt_str),
    _Field("target.realtime_url", "RTKC_REALTIME_URL", _ws_url),
    _Field("target.webhook_public_key_url", "RTKC_WEBHOOK_PUBLIC_KEY_URL", _http_url),
    _Field("target.description", "RTKC_DESCRIPTION", _str),
    _Field("target.profiles", "RTKC_PROFILES", _profiles),
    _Field("other_account.account_id", "RTKC_OTHER_ACCOUNT_ID", _opt_str),
    _Field("other_account.app_id", "RTKC_OTHER_APP_ID", _opt_str),
    _Field("presets.host", "RTKC_HOST_PRESET", _opt_str),
    _Field("presets.participant", "RTKC_PARTICIPANT_PRESET", _opt_str),
    _Field("driver.kind", "RTKC_DRIVER", _choice("websocket", "bridge")),
    _Field("driver.bridge_command", "RTKC_BRIDGE_COMMAND", _command),
    _Field("webhooks.listen", "RTKC_WEBHOOK_LISTEN", _listen),
    _Field("webhooks.public_url", "RTKC_WEBHOOK_PUBLIC_URL", _http_url),
    _Field("time.control", "RTKC_TIME_CONTROL", _choice("none", "test-clock")),
    _Field("time.real_time_budget_seconds", "RTKC_REAL_TIME_BUDGET_SECONDS", _non_negative_float),
    _Field("time.host_grace_seconds", "RTKC_HOST_GRACE_SECONDS", _positive_float),
    _Field("limits.requests_per_10s", "RTKC_REQUESTS_PER_10S", _positive_int),
    _Field("limits.request_timeout_seconds", "RTKC_REQUEST_TIMEOUT_SECONDS", _positive_float),
    _Field("limits.check_timeout_seconds", "RTKC_CHECK_TIMEOUT_SECONDS", _positive_float),
    _Field("limits.run_deadline_seconds", "RTKC_RUN_DEADLINE_SECONDS", _positive_float),
    _Field("limits.event_timeout_seconds", "RTKC_EVENT_TIMEOUT_SECONDS", _positive_float),
    _Field("limits.webhook_retry_seconds", "RTKC_WEBHOOK_RETRY_SECONDS", _positive_float),
    _Field("run_id", "RTKC_RUN_ID", _run_id),
    _Field("reports_dir", "RTKC_REPORTS_DIR", _path),
    _Field("pact.broker_url", "RTKC_PACT_BROKER_URL", _http_url),
    _Field("pact.publish", "RTKC_PACT_PUBLISH", _bool),
    _Field("pact.provider_version", "RTKC_PACT_PROVIDER_VERSION", _opt_str),
    _Field("fuzz.seed", "RTKC_FUZZ_SEED", _seed),
    _Field("fuzz.examples", "RTKC_FUZZ_EXAMPLES", _positive_int),
    _Field("fuzz.time_seconds", "RTKC_FUZZ_TIME_SECONDS", _positive_float),
    _Field("fuzz.preset", "RTKC_FUZZ_PRESET", _choice("default", "nightly")),
    _Field("fuzz.operations", "RTKC_FUZZ_OPERATIONS", _operation_ids),
)


@dataclass(frozen=True)
class _Secret:
    key: str  # where the token lands, "tokens.admin"
    env: str  # literal token variable; env + "_FILE" names a file holding it

    @property
    def file_key(self) -> str:
        return self.key + "_file"


_SECRETS: tuple[_Secret, ...] = (
    _Secret("tokens.admin", "RTKC_ADMIN_TOKEN"),
    _Secret("tokens.readonly", "RTKC_READONLY_TOKEN"),
    _Secret("tokens.no_permission", "RTKC_NO_PERMISSION_TOKEN"),
    _Secret("other_account.token", "RTKC_OTHER_TOKEN"),
    _Secret("pact.broker_token", "RTKC_PACT_BROKER_TOKEN"),
)
_SECRET_FIELDS = {tuple(s.key.split(".")) for s in _SECRETS}
_SECRET_TABLES = {table for table, _ in _SECRET_FIELDS}

_SETTABLE_KEYS = {f.key for f in _FIELDS} | {s.file_key for s in _SECRETS}
_KNOWN_TABLES = {k.split(".")[0] for k in _SETTABLE_KEYS if "." in k}


# -- loading ------------------------------------------------------------------------------


def load_config(
    path: Path | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> RunConfig:
    """Build the run configuration.

    `overrides` (the CLI flags) use dotted keys as in the TOML file: "target.base_url",
    "limits.request_timeout_seconds", "run_id", "tokens.admin_file"... A None value means
    "flag not given". Literal tokens are refused there.
    """
    return build(gather(path, env, overrides))


def gather(
    path: Path | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The settings someone chose, parsed, by dotted key (tokens included): flags > environment
    > TOML file. What is absent takes its default in `build`; the run plan needs to know which."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    toml_values = _read_toml(path) if path is not None else {}
    toml_dir = path.parent if path is not None else Path.cwd()

    for key in overrides:
        if key in {s.key for s in _SECRETS}:
            secret = next(s for s in _SECRETS if s.key == key)
            raise ConfigError(
                f"{key} cannot be given on the command line (it would end up in shell history "
                f"and process lists); set {secret.env} or {secret.env}_FILE instead"
            )
        if key not in _SETTABLE_KEYS:
            raise ConfigError(f"unknown setting {key!r}{_did_you_mean(key, _SETTABLE_KEYS)}")

    values: dict[str, Any] = {}
    for f in _FIELDS:
        if f.key in overrides:
            values[f.key] = f.parse(overrides[f.key], f"command-line setting {f.key}")
        elif f.env and env.get(f.env, "").strip():
            values[f.key] = f.parse(env[f.env], f"environment variable {f.env}")
        elif f.key in toml_values:
            values[f.key] = f.parse(toml_values[f.key], f"{path} {_toml_name(f.key)}")

    for s in _SECRETS:
        token = _resolve_secret(s, overrides, env, toml_values, path, toml_dir)
        if token is not None:
            values[s.key] = token
    return values


def _resolve_secret(
    s: _Secret,
    overrides: Mapping[str, object],
    env: Mapping[str, str],
    toml_values: Mapping[str, object],
    path: Path | None,
    toml_dir: Path,
) -> str | None:
    if s.file_key in overrides:
        where = f"command-line setting {s.file_key}"
        return _read_token_file(_path(overrides[s.file_key], where), where)
    literal = env.get(s.env, "").strip()
    file_name = env.get(s.env + "_FILE", "").strip()
    if literal and file_name:
        raise ConfigError(f"both {s.env} and {s.env}_FILE are set; keep one of them")
    if literal:
        return literal
    if file_name:
        return _read_token_file(Path(file_name).expanduser(), f"{s.env}_FILE")
    if s.file_key in toml_values:
        where = f"{path} {_toml_name(s.file_key)}"
        file_path = _path(toml_values[s.file_key], where)
        # A relative path in the file means relative to the file, not to wherever we run.
        return _read_token_file(toml_dir / file_path, where)
    return None


def _read_token_file(file_path: Path, where: str) -> str:
    try:
        token = file_path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read token file {file_path}: {exc.strerror}") from None
    if not token:
        raise ConfigError(f"{where}: token file {file_path} is empty")
    return token


def _read_toml(path: Path) -> dict[str, object]:
    """Flatten the TOML file to dotted keys, refusing unknown keys and literal tokens."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None

    flat: dict[str, object] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            if name not in _KNOWN_TABLES:
                hint = _did_you_mean(name, _KNOWN_TABLES)
                raise ConfigError(f"{path}: unknown table [{name}]{hint}")
            for key, inner in value.items():
                flat[f"{name}.{key}"] = inner
        else:
            flat[name] = value

    for key in flat:
        secret = next((s for s in _SECRETS if s.key == key), None)
        if secret is not None:
            raise ConfigError(
                f"{path}: {_toml_name(key)} holds a literal token; config files get committed, "
                f"so set {secret.env}, or put the token in a file and name it with "
                f"{_toml_name(secret.file_key)}"
            )
        if key not in _SETTABLE_KEYS:
            raise ConfigError(f"{path}: unknown key {_toml_name(key)}{_did_you_mean(key, _SETTABLE_KEYS)}")
    return flat


def build(values: Mapping[str, Any]) -> RunConfig:
    """The configuration tree from chosen settings (`gather`'s), defaults for the rest."""

    def section(cls: type, table: str) -> Any:
        prefix = table + "."
        return cls(**{k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)})

    target: TargetConfig = section(TargetConfig, "target")
    if "target.profiles" not in values and not target.base_url:
        target = TargetConfig(**{**asdict(target), "profiles": PROFILES})
    tokens: TokensConfig = section(TokensConfig, "tokens")
    driver: DriverConfig = section(DriverConfig, "driver")

    if target.base_url:
        if not (target.account_id and target.app_id):
            raise ConfigError(
                "target.base_url is set but target.account_id / target.app_id are not (RTKC_ACCOUNT_ID, RTKC_APP_ID)"
            )
        if not tokens.admin:
            raise ConfigError(
                "no admin API token: set RTKC_ADMIN_TOKEN, or RTKC_ADMIN_TOKEN_FILE / "
                "tokens.admin_file naming a file that holds it"
            )
        if target.webhook_public_key_url is None:
            key_url = _origin(target.base_url) + "/.well-known/webhooks.json"
            target = TargetConfig(**{**asdict(target), "webhook_public_key_url": key_url})
    pact: PactConfig = section(PactConfig, "pact")
    if pact.publish and not (pact.broker_url and pact.broker_token and pact.provider_version):
        raise ConfigError(
            "pact.publish is on but pact.broker_url, pact.provider_version or the broker token "
            "(RTKC_PACT_BROKER_TOKEN or RTKC_PACT_BROKER_TOKEN_FILE) is missing"
        )
    if driver.kind == "bridge" and not driver.bridge_command:
        raise ConfigError("driver.kind is 'bridge' but driver.bridge_command is empty (RTKC_BRIDGE_COMMAND)")

    return RunConfig(
        target=target,
        tokens=tokens,
        other_account=section(OtherAccountConfig, "other_account"),
        presets=section(PresetsConfig, "presets"),
        driver=driver,
        webhooks=section(WebhooksConfig, "webhooks"),
        time=section(TimeConfig, "time"),
        limits=section(LimitsConfig, "limits"),
        pact=pact,
        fuzz=section(FuzzConfig, "fuzz"),
        run_id=values.get("run_id") or _new_run_id(),
        reports_dir=values.get("reports_dir", Path("reports")),
    )


def _new_run_id() -> str:
    return f"rtkc-{datetime.now(UTC):%Y%m%d%H%M%S}-{_random.token_hex(3)}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _toml_name(key: str) -> str:
    table, _, name = key.rpartition(".")
    return f"[{table}] {name}" if table else name


def _did_you_mean(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- example ------------------------------------------------------------------------------

EXAMPLE_TOML = """\
# realtimekit-conformance target configuration.
# Precedence: command-line flags > RTKC_* environment variables > this file > defaults.
# Tokens never go in this file: set RTKC_ADMIN_TOKEN (or RTKC_ADMIN_TOKEN_FILE), or name a
# file holding the token with a *_file key below. Relative paths are relative to this file.

# Names this run's reports; default rtkc-<yyyymmddHHMMSS>-<6 hex>.
# run_id = "rtkc-nightly"
reports_dir = "reports"

[target]
# The REST base URL, as for the Cloudflare SDK (RTKC_BASE_URL).
base_url = "http://127.0.0.1:8787/client/v4"
account_id = "acc-conformance"          # RTKC_ACCOUNT_ID
app_id = "app-conformance"              # RTKC_APP_ID
# Realtime endpoint for the websocket driver (RTKC_REALTIME_URL); ws:// or wss://.
realtime_url = "ws://127.0.0.1:8787/realtime"
# Webhook signing key (RTKC_WEBHOOK_PUBLIC_KEY_URL);
# default: origin of base_url + /.well-known/webhooks.json
webhook_public_key_url = "http://127.0.0.1:8787/.well-known/webhooks.json"
description = "bundled reference implementation"   # printed in reports
# Which requirement families you claim (RTKC_PROFILES, comma-separated). Default: what
# RealtimeKit documents. "classroom" (the legacy KME host-grace rules, the suite's definition
# of "host") is opt-in; claim it only if your implementation has a host grace timer, and give
# the suite a test clock or the real time to wait it out (see [time]).
profiles = ["api", "session", "webhooks", "recording"]

[tokens]
# Files holding tokens; or RTKC_ADMIN_TOKEN[_FILE], RTKC_READONLY_TOKEN[_FILE],
# RTKC_NO_PERMISSION_TOKEN[_FILE]. Only admin is required.
# admin_file = "secrets/admin-token"
# readonly_file = "secrets/readonly-token"            # for read-only permission checks
# no_permission_file = "secrets/no-permission-token"  # for 401/403 checks

[other_account]
# A second tenant, for the tenant-isolation check (not run without all three).
# account_id = "acc-other"              # RTKC_OTHER_ACCOUNT_ID
# app_id = "app-other"                  # RTKC_OTHER_APP_ID
# token_file = "secrets/other-token"    # or RTKC_OTHER_TOKEN[_FILE]

[presets]
# Existing preset names (RTKC_HOST_PRESET, RTKC_PARTICIPANT_PRESET);
# leave empty and the suite creates its own presets through the API.
host = ""
participant = ""

[driver]
# How simulated participants join: "websocket" (built in) or "bridge" (RTKC_DRIVER).
kind = "websocket"
# Command that starts a bridge to a real client SDK (RTKC_BRIDGE_COMMAND, shell-split).
bridge_command = []

[webhooks]
# Where the suite's webhook receiver listens (RTKC_WEBHOOK_LISTEN); port 0 = any free port.
listen = "127.0.0.1:0"
# The URL the implementation must call, if not the bound address (RTKC_WEBHOOK_PUBLIC_URL),
# e.g. behind a tunnel.
# public_url = "https://hooks.example.test"

[time]
# "test-clock": the target offers POST {origin}/_conformance/clock/advance {"seconds": N}
# (RTKC_TIME_CONTROL). "none": timer checks need real_time_budget_seconds.
control = "none"
# How much real time timer checks may wait; 0 = never wait, report them "not run".
real_time_budget_seconds = 0
# The target's configured classroom host grace period.
host_grace_seconds = 900

[limits]
requests_per_10s = 200           # RealtimeKit allows 250 per 10 s
request_timeout_seconds = 10     # per HTTP request
check_timeout_seconds = 60       # per check
run_deadline_seconds = 1800      # whole run
event_timeout_seconds = 5        # wait for one client event or webhook delivery
webhook_retry_seconds = 60       # wait for a webhook retry after a 5xx or no answer

[fuzz]
# The fuzz phase: schemathesis against the OpenAPI description (RTKC_FUZZ_*; run --seed,
# --fuzz-examples, --fuzz-time, --fuzz-preset). Leave seed out for a random one (printed).
# seed = 12345
preset = "default"               # or "nightly": 100 examples, fuzzing for 600 s
# examples = 10                  # generated cases per operation (overrides the preset)
# time_seconds = 60              # keep fuzzing this long (overrides the preset)
# operations = ["listSessions"]  # fuzz only these operation ids, without the stateful phase

[pact]
# Publish the contracts phase's verification results to a Pact Broker (off by default).
# The broker token is a secret: RTKC_PACT_BROKER_TOKEN[_FILE] or broker_token_file here.
publish = false                  # RTKC_PACT_PUBLISH
# broker_url = "https://broker.example.test"     # RTKC_PACT_BROKER_URL
# provider_version = "build-1234"                # RTKC_PACT_PROVIDER_VERSION
# broker_token_file = "secrets/pact-broker-token"
"""


# -- handing a resolved configuration to another process (the run plan, conformance/plan.py) --

# Each setting's environment variable, by dotted key (the embedded reference's defaults are
# written as variables, like a user's own settings).
ENV_NAMES = {f.key: f.env for f in _FIELDS if f.env}
# Each token's literal variable, by dotted key (a child process gets tokens only that way).
SECRET_NAMES = {s.key: s.env for s in _SECRETS}


def setting(config: RunConfig, key: str) -> Any:
    """The value at a dotted key ("limits.event_timeout_seconds", "run_id")."""
    table, _, name = key.rpartition(".")
    return getattr(getattr(config, table), name) if table else getattr(config, name)


def plain_settings(config: RunConfig) -> dict[str, object]:
    """Every setting but the tokens, by dotted key, as JSON values: what a plan file holds."""
    out: dict[str, object] = {}
    for f in _FIELDS:
        value = setting(config, f.key)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.key] = value
    return out


def secret_variables(config: RunConfig) -> dict[str, str]:
    """The configuration's tokens as literal variables, for a child process's environment."""
    return {s.env: value for s in _SECRETS if (value := setting(config, s.key))}


def from_plain(settings: Mapping[str, object], env: Mapping[str, str]) -> RunConfig:
    """`plain_settings`'s output back into a configuration, tokens from literal variables only."""
    values: dict[str, Any] = {}
    for f in _FIELDS:
        if settings.get(f.key) is not None:
            values[f.key] = f.parse(settings[f.key], f"run plan {f.key}")
    for s in _SECRETS:
        token = env.get(s.env, "").strip()
        if token:
            values[s.key] = token
    return build(values)
