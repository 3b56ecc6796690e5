"""Console accounts: who may sign in, with which password (Argon2id) and second factor.

Every account is a ``users`` row plus an ``accounts`` row.  ``origin`` "config": a
[[users]] entry (the configuration decides name, email and role; the account is made or
updated when users are synced); "console": added in the console or by ``umfax user add``
(untouched by the configuration).  Sessions and the one-time setup link are in
:mod:`umfax.store.web_sessions`; failed sign-ins and lockout in :mod:`umfax.store.signin_guard`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from umfax.config import Config, UserConfig
from umfax.errors import NotFound, UmfaxError
from umfax.store.console_models import Account
from umfax.store.models import User
from umfax.store.store import Store
from umfax.web.identity import WebUser

#: Argon2id with argon2-cffi's current recommended parameters (RFC 9106, low memory).
HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class AccountError(UmfaxError):
    """An account cannot be made or changed as asked (the message says why and what to do)."""


class WeakPassword(AccountError):
    """A password too short to keep."""


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """One account as listed (never its hashes or secrets)."""

    user_id: int
    name: str
    email: str
    display_name: str
    origin: str
    admin: bool
    disabled: bool
    has_password: bool
    has_totp: bool
    locked_until: datetime | None
    last_signin_at: datetime | None

    def web_user(self) -> WebUser:
        return WebUser(self.user_id, self.name, self.email, self.display_name, self.admin)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def _info(user: User, account: Account) -> AccountInfo:
    return AccountInfo(
        user_id=user.id,
        name=user.name,
        email=user.email or "",
        display_name=user.display_name,
        origin=account.origin,
        admin=account.admin,
        disabled=account.disabled,
        has_password=bool(account.password_hash),
        has_totp=bool(account.totp_secret),
        locked_until=account.locked_until,
        last_signin_at=account.last_signin_at,
    )


def _by_login(login: str) -> ColumnElement[bool]:
    """Where-clause: a user by name or (case-insensitive) email."""
    return or_(User.name == login, func.lower(User.email) == login.lower())


class AccountStore:
    """Accounts over a :class:`~umfax.store.Store`; ``config`` gives configured users their role."""

    def __init__(self, store: Store, config: Config | None = None) -> None:
        self.store = store
        self.config = config

    # --- accounts -------------------------------------------------------------------

    def create(
        self,
        name: str,
        email: str,
        *,
        display_name: str = "",
        password: str | None = None,
        admin: bool = False,
    ) -> AccountInfo:
        """A console user: a new users row (may send) and its account."""
        if not re.match(NAME_PATTERN, name):
            raise AccountError(f"{name!r} is not a user name: letters, digits, '.', '_' or '-', up to 64")
        if "@" not in email:
            raise AccountError(f"{email!r} is not an email address")
        if password is not None:
            check_password_strength(password)
        digest = HASHER.hash(password) if password is not None else None
        with self.store.writing() as session:
            clash = session.scalars(
                select(User).where(or_(User.name == name, func.lower(User.email) == email.lower()))
            ).first()
            if clash is not None:
                raise AccountError(f"a user named {clash.name} ({clash.email}) already exists")
            user = User(name=name, email=email.lower(), display_name=display_name, can_send=True)
            session.add(user)
            session.flush()
            account = Account(user_id=user.id, origin="console", admin=admin, password_hash=digest)
            session.add(account)
            session.flush()
            return _info(user, account)

    def sync_config(self, users: Sequence[UserConfig]) -> None:
        """Give each configured user with a users row an account of origin "config" with
        the configured role; accounts of users no longer configured are disabled."""
        wanted = {user.name: user for user in users}
        with self.store.writing() as session:
            rows = session.execute(select(User, Account).outerjoin(Account, Account.user_id == User.id))
            for user, account in rows:
                configured = wanted.get(user.name)
                if configured is None:
                    if account is not None and account.origin == "config":
                        account.disabled = True
                    continue
                if account is None:
                    session.add(Account(user_id=user.id, origin="config", admin=configured.admin))
                else:
                    account.origin, account.admin = "config", configured.admin

    def _configured(self, name: str) -> UserConfig | None:
        if self.config is None:
            return None
        return next((u for u in self.config.users if u.name == name), None)

    def _account(self, session: Session, login: str) -> tuple[User, Account]:
        """The user and account for a name or email; a configured user without an account
        yet gets one.  NotFound when there is none."""
        user = session.scalars(select(User).where(_by_login(login))).first()
        if user is None:
            raise NotFound(f"there is no user {login!r}; `umfax user list` shows them")
        account = session.get(Account, user.id)
        if account is None:
            configured = self._configured(user.name)
            if configured is None:
                raise NotFound(f"{user.name} has no console account")
            account = Account(user_id=user.id, origin="config", admin=configured.admin)
            session.add(account)
            session.flush()
        return user, account

    def get(self, login: str) -> AccountInfo:
        with self.store.writing() as session:
            return _info(*self._account(session, login))

    def find(self, login: str) -> AccountInfo | None:
        try:
            return self.get(login)
        except NotFound:
            return None

    def by_id(self, user_id: int) -> AccountInfo | None:
        with self.store.reading() as session:
            user, account = session.get(User, user_id), session.get(Account, user_id)
            return None if user is None or account is None else _info(user, account)

    def by_email(self, email: str) -> AccountInfo | None:
        with self.store.reading() as session:
            user = session.scalars(select(User).where(func.lower(User.email) == email.lower())).first()
            account = session.get(Account, user.id) if user is not None else None
            return None if user is None or account is None else _info(user, account)

    def list(self) -> list[AccountInfo]:
        with self.store.reading() as session:
            rows = session.execute(
                select(User, Account).join(Account, Account.user_id == User.id).order_by(User.name)
            )
            return [_info(user, account) for user, account in rows]

    def has_admin(self) -> bool:
        """Whether an enabled administrator can sign in with a password."""
        with self.store.reading() as session:
            found = session.scalars(
                select(Account.user_id).where(
                    Account.admin.is_(True), Account.disabled.is_(False), Account.password_hash.is_not(None)
                )
            ).first()
            return found is not None

    def set_password(self, login: str, password: str) -> AccountInfo:
        check_password_strength(password)
        digest = HASHER.hash(password)
        with self.store.writing() as session:
            user, account = self._account(session, login)
            account.password_hash = digest
            account.failed_signins, account.locked_until = 0, None
            return _info(user, account)

    def set_admin(self, login: str, admin: bool) -> AccountInfo:
        with self.store.writing() as session:
            user, account = self._account(session, login)
            if account.origin == "config":
                raise AccountError(
                    f"{user.name} is a [[users]] entry: change 'admin' there "
                    "(the configuration decides their role)"
                )
            account.admin = admin
            return _info(user, account)

    def set_disabled(self, login: str, disabled: bool) -> AccountInfo:
        with self.store.writing() as session:
            user, account = self._account(session, login)
            account.disabled = disabled
            if not disabled:
                account.failed_signins, account.locked_until = 0, None
            return _info(user, account)

    def delete(self, login: str) -> AccountInfo:
        """Remove a console user's account (their users row stays, unable to send, so
        their faxes keep an owner); a configured user must be removed from the config."""
        with self.store.writing() as session:
            user, account = self._account(session, login)
            if account.origin == "config":
                raise AccountError(
                    f"{user.name} is a [[users]] entry: remove it from the configuration instead"
                )
            info = _info(user, account)
            session.delete(account)
            user.can_send = False
            return info

    # --- passwords ------------------------------------------------------------------

    def verify_password(self, login: str, password: str) -> AccountInfo | None:
        """The account when ``password`` is its password (the hash is renewed when the
        hasher's parameters changed since); None otherwise, also for disabled accounts.
        Time is spent hashing even for unknown names, so timing tells nothing."""
        with self.store.reading() as session:
            user = session.scalars(select(User).where(_by_login(login))).first()
            account = session.get(Account, user.id) if user is not None else None
        if user is None or account is None:
            if user is not None and self._configured(user.name) is not None:
                self.get(login)  # a configured user's account, made now (no password yet)
            _waste_time(password)
            return None
        digest = account.password_hash
        if not digest or account.disabled:
            _waste_time(password)
            return None
        try:
            HASHER.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return None
        if HASHER.check_needs_rehash(digest):
            with self.store.writing() as session:
                row = session.get(Account, user.id)
                if row is not None:
                    row.password_hash = HASHER.hash(password)
        return _info(user, account)

    # --- second factor (the secret as stored; sealing is the caller's) ------------------

    def set_totp_secret(self, user_id: int, stored: str | None) -> None:
        with self.store.writing() as session:
            account = session.get(Account, user_id)
            if account is None:
                raise NotFound(f"there is no account {user_id}")
            account.totp_secret = stored

    def totp_secret(self, user_id: int) -> str | None:
        with self.store.reading() as session:
            account = session.get(Account, user_id)
            return account.totp_secret if account is not None else None

    def reset_totp(self, login: str) -> AccountInfo:
        with self.store.writing() as session:
            user, account = self._account(session, login)
            account.totp_secret = None
            return _info(user, account)


_DUMMY_HASH = HASHER.hash("not a password anyone has")


def _waste_time(password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        HASHER.verify(_DUMMY_HASH, password)
