"""Users: who may send, and whom a mail address or a fax number belongs to."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select

from umfax.store.base import StoreBase
from umfax.store.console_models import Account
from umfax.store.models import User


class UserStore(StoreBase):
    """The configured users, as rows jobs and received faxes can refer to."""

    def add_user(
        self,
        name: str,
        *,
        email: str | None = None,
        display_name: str = "",
        fax_number: str | None = None,
        api_key_hash: str | None = None,
    ) -> User:
        with self.writing() as session:
            user = User(
                name=name,
                email=email,
                display_name=display_name,
                fax_number=fax_number,
                api_key_hash=api_key_hash,
            )
            session.add(user)
            session.flush()
            return user

    def sync_users(self, users: Sequence[tuple[str, str, str, str | None, bool]]) -> None:
        """Make the users table hold these (name, email, display name, fax number,
        can_send) rows, as configured; users no longer configured lose can_send, except
        people added in the console (``umfax user add``), whom the configuration does not
        describe."""
        with self.writing() as session:
            existing = {u.name: u for u in session.scalars(select(User))}
            console = set(
                session.scalars(select(Account.user_id).where(Account.origin == "console"))
            )
            wanted = {name for name, *_ in users}
            for name, user in existing.items():
                if name not in wanted and user.id not in console:
                    user.can_send = False
            session.flush()
            for name, email, display_name, fax_number, can_send in users:
                row = existing.get(name)
                if row is None:
                    session.add(
                        User(
                            name=name,
                            email=email,
                            display_name=display_name,
                            fax_number=fax_number,
                            can_send=can_send,
                        )
                    )
                else:
                    row.email, row.display_name = email, display_name
                    row.fax_number, row.can_send = fax_number, can_send

    def find_user(self, *, email: str | None = None, fax_number: str | None = None) -> User | None:
        with self.reading() as session:
            conditions = []
            if email:
                conditions.append(func.lower(User.email) == email.lower())
            if fax_number:
                conditions.append(User.fax_number == fax_number)
            if not conditions:
                return None
            return session.scalars(select(User).where(or_(*conditions))).first()
