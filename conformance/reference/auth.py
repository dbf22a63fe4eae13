"""Bearer API tokens, each scoped to one account and app with one permission level.

Like Cloudflare API tokens: `Realtime Admin` and `Realtime` may do everything here, a
read-only token may only read, and a token without a Realtime permission may do nothing.
A token never sees another account's (or app's) resources: they answer 404, as if absent.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    ADMIN = "Realtime Admin"
    REALTIME = "Realtime"
    READ = "Realtime Read"
    NONE = "none"


@dataclass(frozen=True)
class ApiToken:
    token: str
    account_id: str
    app_id: str
    permission: Permission

    @property
    def scope(self) -> str:
        return f"{self.account_id}/{self.app_id}"


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TokenRegistry:
    def __init__(self, tokens: list[ApiToken]) -> None:
        self._tokens = list(tokens)

    def identify(self, authorization: str | None) -> ApiToken:
        if not authorization:
            raise AuthError(401, "authentication required: send Authorization: Bearer <token>")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError(401, "authentication required: send Authorization: Bearer <token>")
        value = value.strip()
        for known in self._tokens:
            if hmac.compare_digest(known.token.encode(), value.encode()):
                return known
        raise AuthError(401, "invalid API token")

    @staticmethod
    def authorize(token: ApiToken, account_id: str, app_id: str, *, write: bool) -> str:
        """Return the scope the request may touch, or raise the error to answer."""
        if token.account_id != account_id or token.app_id != app_id:
            raise AuthError(404, f"app {app_id} not found in account {account_id}")
        if token.permission is Permission.NONE:
            raise AuthError(403, "this token lacks the Realtime Admin or Realtime permission")
        if write and token.permission is Permission.READ:
            raise AuthError(403, "this token may only read")
        return token.scope
