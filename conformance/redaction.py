"""Keep API tokens out of everything the suite stores or prints."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "Redactor", "is_secret_key"]

REDACTED = "[REDACTED]"

# Shorter strings would match ordinary words and numbers all over the evidence.
MIN_SECRET_LENGTH = 6

# Header values that are credentials as a whole, whatever they contain.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-auth-key"})


def is_secret_key(key: str) -> bool:
    """True for JSON keys whose value is a credential: token, api_token, *_token, authorization."""
    k = key.lower()
    return k in ("token", "authorization") or k.endswith("_token")


class Redactor:
    """Replaces known secrets in text, headers and JSON.

    Secrets are kept in an immutable tuple that `add` swaps under a lock (copy-on-write),
    so readers on the event loop and on a server thread never see a half-updated set.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a secret; empty and very short strings are ignored (see MIN_SECRET_LENGTH)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        # A token can also show up percent-encoded in a query string.
        forms = {secret, quote(secret, safe="")}
        with self._lock:
            merged = set(self._secrets) | forms
            # Longest first, so a secret that contains another is replaced whole.
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def redact_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def redact_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Copy of `headers` with credential headers blanked and secrets removed elsewhere."""
        out: dict[str, str] = {}
        for name, value in headers.items():
            if name.lower() in _SECRET_HEADERS:
                out[name] = REDACTED
            else:
                out[name] = self.redact_text(str(value))
        return out

    def redact_json(self, obj: Any, *, learn: bool = False) -> Any:
        """Deep copy of `obj` with credential keys set to "[REDACTED]" and secrets cut from strings.

        With `learn=True` the values found under credential keys (e.g. a participant token
        in an add-participant answer) become secrets too, so they are also redacted when
        they reappear later, say in a WebSocket URL.
        """
        if isinstance(obj, Mapping):
            out: dict[Any, Any] = {}
            for key, value in obj.items():
                if isinstance(key, str) and is_secret_key(key) and value not in (None, ""):
                    if learn and isinstance(value, str):
                        self.add(value)
                    out[key] = REDACTED
                else:
                    out[key] = self.redact_json(value, learn=learn)
            return out
        if isinstance(obj, list | tuple):
            return [self.redact_json(item, learn=learn) for item in obj]
        if isinstance(obj, str):
            return self.redact_text(obj)
        return obj
