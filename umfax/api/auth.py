"""``Authorization: Bearer KEY``: who is calling, and what they may do."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from fastapi import Request

from umfax.api.context import ApiContext
from umfax.api.errors import ApiError
from umfax.config import UserConfig


@dataclass(frozen=True, slots=True)
class Caller:
    key_id: int
    user: UserConfig
    user_id: int | None
    scopes: frozenset[str]

    @property
    def admin(self) -> bool:
        return self.user.admin

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ApiError(
                403,
                f"this API key lacks the scope {scope!r}; create one with it "
                f"(`umfax apikey create {self.user.email} --scope {scope}`)",
            )

    def owns(self, user_id: int | None) -> bool:
        return self.admin or (user_id is not None and user_id == self.user_id)


def _presented_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():  # Twilio clients: account SID and the key
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def authenticate(context: ApiContext, request: Request) -> Caller:
    key = _presented_key(request)
    if not key:
        raise ApiError(
            401,
            "send your API key as 'Authorization: Bearer KEY' (`umfax apikey create EMAIL` makes one)",
            headers={"WWW-Authenticate": 'Bearer realm="umfax"'},
        )
    owner = context.owner(key)
    user = context.users.get(owner.user_name) if owner is not None else None
    if owner is None or user is None:
        raise ApiError(
            401,
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="umfax", error="invalid_token"'},
        )
    wait = context.limiter.take(owner.key_id)
    if wait > 0:
        raise ApiError(
            429,
            f"too many requests with this key; retry in {wait:.1f} s",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    context.used(owner.key_id)
    return Caller(owner.key_id, user, context.user_id(user), owner.scopes)
