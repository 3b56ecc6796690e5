"""Who is signed in to the console, and what they may see."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebUser:
    """A signed-in person: a row of the store's users table with their console role."""

    id: int  # users.id
    name: str
    email: str
    display_name: str
    admin: bool

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def may_see(self, owner_id: int | None) -> bool:
        """Whether a record owned by ``owner_id`` (a job's or received fax's user) is visible."""
        return self.admin or (owner_id is not None and owner_id == self.id)
