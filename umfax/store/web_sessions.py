"""Console sessions and the one-time setup link.

A session's cookie holds a random secret; the store keeps only its SHA-256 (the row's
id), so a copy of the table signs no one in.  A session ends at ``expires_at``
(``[console] session_lifetime`` after sign-in) or after ``idle_timeout`` without a
request; ``seen_at`` is written at most once a minute (a write per request costs).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from umfax.store.console_models import Account, SetupToken, WebSession
from umfax.store.models import User, utcnow
from umfax.store.store import Store
from umfax.web.identity import WebUser

#: How often a session's ``seen_at`` is written.
TOUCH_EVERY = timedelta(minutes=1)
SETUP_LINK_LIFETIME = timedelta(hours=24)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewSession:
    """What the browser gets: ``token`` goes in the cookie (never stored)."""

    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FoundSession:
    """A live session: whose, its CSRF token, and whether the second factor is done
    (until then ``user`` may only finish signing in)."""

    id: str
    user: WebUser
    csrf_token: str
    second_factor_done: bool


class SessionStore:
    def __init__(self, store: Store, lifetime: float = 12 * 3600.0, idle_timeout: float = 2 * 3600.0) -> None:
        self.store = store
        self.lifetime = timedelta(seconds=lifetime)
        self.idle_timeout = timedelta(seconds=idle_timeout)

    def start(
        self, user_id: int, *, second_factor_done: bool = True, address: str = "", user_agent: str = ""
    ) -> NewSession:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = utcnow()
        with self.store.writing() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at <= now))  # the table stays small
            row = WebSession(
                id=digest(token),
                user_id=user_id,
                csrf_token=csrf,
                second_factor_done=second_factor_done,
                created_at=now,
                seen_at=now,
                expires_at=now + self.lifetime,
                address=address[:64],
                user_agent=user_agent[:300],
            )
            session.add(row)
            account = session.get(Account, user_id)
            if account is not None and second_factor_done:
                account.last_signin_at = now
        return NewSession(token, csrf, now + self.lifetime)

    def find(self, token: str) -> FoundSession | None:
        """The live session of a cookie's token; an expired or idle one is removed, as is
        one whose account was disabled or deleted."""
        if not token:
            return None
        key, now = digest(token), utcnow()
        with self.store.reading() as session:
            found = session.execute(
                select(WebSession, User, Account)
                .join(User, User.id == WebSession.user_id)
                .outerjoin(Account, Account.user_id == WebSession.user_id)
                .where(WebSession.id == key)
            ).first()
        if found is None:
            return None
        row, user, account = found
        if (
            row.expires_at <= now
            or row.seen_at + self.idle_timeout <= now
            or account is None
            or account.disabled
        ):
            self.end(token)
            return None
        if now - row.seen_at >= TOUCH_EVERY:
            with self.store.writing() as session:
                live = session.get(WebSession, key)
                if live is not None:
                    live.seen_at = now
        web_user = WebUser(user.id, user.name, user.email or "", user.display_name, account.admin)
        return FoundSession(key, web_user, row.csrf_token, row.second_factor_done)

    def second_factor_passed(self, session_id: str) -> None:
        with self.store.writing() as session:
            row = session.get(WebSession, session_id)
            if row is not None:
                row.second_factor_done = True
                account = session.get(Account, row.user_id)
                if account is not None:
                    account.last_signin_at = utcnow()

    def end(self, token: str) -> None:
        with self.store.writing() as session:
            session.execute(delete(WebSession).where(WebSession.id == digest(token)))

    def end_all(self, user_id: int) -> int:
        """Sign a user out everywhere (password reset, disabled): how many sessions ended."""
        with self.store.writing() as session:
            result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
            return int(getattr(result, "rowcount", 0) or 0)

    # --- the one-time setup link -------------------------------------------------------

    def create_setup_token(self) -> str:
        """A new setup token (24 h, single use); only its digest is kept."""
        token = secrets.token_urlsafe(24)
        now = utcnow()
        with self.store.writing() as session:
            session.add(
                SetupToken(digest=digest(token), created_at=now, expires_at=now + SETUP_LINK_LIFETIME)
            )
        return token

    def setup_token_valid(self, token: str) -> bool:
        with self.store.reading() as session:
            row = session.get(SetupToken, digest(token))
            return row is not None and row.used_at is None and row.expires_at > utcnow()

    def use_setup_token(self, token: str) -> bool:
        """Mark the token used; False when it was not valid (used, expired or unknown)."""
        with self.store.writing() as session:
            row = session.get(SetupToken, digest(token), with_for_update=True)
            if row is None or row.used_at is not None or row.expires_at <= utcnow():
                return False
            row.used_at = utcnow()
            return True
