"""Slow down and lock out repeated failed sign-ins, per account and per client address.

Per account: ``failed_signins`` in a row; every ``lockout_failures`` of them lock the
account for ``lockout_time``, doubled at each further lock (at most a day); a correct
password (outside a lock) resets the count.  Per address: the ``signin_failed`` entries
of the audit log from that address within ``lockout_time``; ``address_failures`` of them
refuse every sign-in from there until the oldest ages out.  The console slows each
failed answer by ``failure_delay`` times the failures in a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select

from umfax.config import ConsoleConfig
from umfax.store.console_models import Account, AuditEntry
from umfax.store.models import User, utcnow
from umfax.store.store import Store

MAX_LOCK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a sign-in is refused before the password is even checked, and when to retry."""

    reason: str  # "account locked" or "address locked"
    until: datetime

    @property
    def message(self) -> str:
        whose = "for this account" if self.reason == "account locked" else "from your address"
        return (
            f"Too many failed sign-ins {whose}. "
            f"Try again {in_words(self.until - utcnow())} (after {self.until:%H:%M} UTC)."
        )


def in_words(delta: timedelta) -> str:
    seconds = max(0.0, delta.total_seconds())
    if seconds < 60:
        return "in a minute"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"in {minutes} minutes"
    return f"in {math.ceil(minutes / 60)} hours"


def lock_length(failures: int, policy: ConsoleConfig) -> timedelta | None:
    """How long ``failures`` failures in a row lock an account (None: not locked)."""
    if failures <= 0 or failures % policy.lockout_failures:
        return None
    doublings = failures // policy.lockout_failures - 1
    length: timedelta = timedelta(seconds=policy.lockout_time) * (2 ** min(doublings, 20))
    return min(length, MAX_LOCK)


class SigninGuard:
    def __init__(self, store: Store, policy: ConsoleConfig) -> None:
        self.store = store
        self.policy = policy

    def _account_query(self, login: str) -> Select[Account]:
        return (
            select(Account)
            .join(User, User.id == Account.user_id)
            .where(or_(User.name == login, func.lower(User.email) == login.lower()))
        )

    def refusal(self, login: str, address: str) -> Refusal | None:
        """Why a sign-in as ``login`` from ``address`` is refused now, or None."""
        now = utcnow()
        window = now - timedelta(seconds=self.policy.lockout_time)
        with self.store.reading() as session:
            account = session.scalars(self._account_query(login)).first() if login else None
            if account is not None and account.locked_until is not None and account.locked_until > now:
                return Refusal("account locked", account.locked_until)
            if address:
                times = list(
                    session.scalars(
                        select(AuditEntry.at)
                        .where(
                            AuditEntry.action == "signin_failed",
                            AuditEntry.address == address,
                            AuditEntry.at > window,
                        )
                        .order_by(AuditEntry.at.desc())
                        .limit(self.policy.address_failures)
                    )
                )
                if len(times) >= self.policy.address_failures:
                    return Refusal("address locked", times[-1] + timedelta(seconds=self.policy.lockout_time))
        return None

    def failed(self, login: str, address: str) -> int:
        """Count a failed sign-in; the failures in a row of that account (1 for no account)."""
        if not login:
            return 1
        with self.store.writing() as session:
            account = session.scalars(self._account_query(login)).first()
            if account is None:
                return 1
            account.failed_signins = (account.failed_signins or 0) + 1
            length = lock_length(account.failed_signins, self.policy)
            if length is not None:
                account.locked_until = utcnow() + length
            return int(account.failed_signins)

    def succeeded(self, user_id: int) -> None:
        with self.store.writing() as session:
            account = session.get(Account, user_id)
            if account is not None:
                account.failed_signins, account.locked_until = 0, None
