"""Inbound routes and junk entries edited in the console (tables ``console_routes`` and
``console_junk``): the rows, their edits, and :class:`ConsoleRouting`, the short-lived
snapshot of them that :class:`umfax.routing.InboundRouter` consults before the
configured [routing] (so an edit applies to the next received fax, without a restart).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import func, select

from umfax.config import RouteConfig, UserConfig
from umfax.errors import NotFound, UmfaxError
from umfax.routing import ConsoleRules
from umfax.store.console_models import ConsoleJunk, ConsoleRoute
from umfax.store.models import User, utcnow
from umfax.store.store import Store

logger = logging.getLogger(__name__)

JUNK_FIELDS = ("caller", "csi")
#: How long a router keeps a snapshot before reading the tables again.
CACHE_SECONDS = 2.0


class InvalidRoute(UmfaxError):
    """A console route or junk entry that cannot be saved (says why)."""


@dataclass(frozen=True, slots=True)
class RouteIn:
    """A route as entered: every condition given must match (globs as in [[routing.routes]])."""

    users: tuple[str, ...]
    line: str = ""
    called: str = ""
    caller: str = ""
    csi: str = ""
    voice: str = ""

    def config(self) -> RouteConfig:
        """The same route as a [[routing.routes]] entry (validates the voice rule)."""
        try:
            return RouteConfig(
                line=self.line,
                called=self.called,
                caller=self.caller,
                csi=self.csi,
                users=list(self.users),
                voice=self.voice,
            )
        except ValidationError as exc:
            problems = "; ".join(str(error["msg"]) for error in exc.errors())
            raise InvalidRoute(f"this route is not valid: {problems}") from exc


def split_users(text: str) -> tuple[str, ...]:
    """``"ann, bob"`` -> ``("ann", "bob")``."""
    return tuple(name for name in (part.strip() for part in text.replace(";", ",").split(",")) if name)


class ConsoleRouteStore:
    """Console routes and junk entries: listed, added, edited, deleted, reordered."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- routes ---------------------------------------------------------------------

    def routes(self) -> list[ConsoleRoute]:
        with self.store.reading() as session:
            return list(
                session.scalars(select(ConsoleRoute).order_by(ConsoleRoute.position, ConsoleRoute.id))
            )

    def _check(self, route: RouteIn) -> None:
        if not route.users:
            raise InvalidRoute("a route needs at least one user")
        route.config()
        known = set(self.user_names())
        unknown = [name for name in route.users if name not in known]
        if unknown:
            raise InvalidRoute(f"no user named {', '.join(unknown)}")

    def add_route(self, route: RouteIn) -> ConsoleRoute:
        """Append a route (tried after the console's existing ones)."""
        self._check(route)
        with self.store.writing() as session:
            last = session.scalar(select(func.max(ConsoleRoute.position)))
            row = ConsoleRoute(position=(last or 0) + 1)
            self._fill(row, route)
            session.add(row)
            session.flush()
            return row

    def update_route(self, route_id: int, route: RouteIn) -> ConsoleRoute:
        self._check(route)
        with self.store.writing() as session:
            row = session.get(ConsoleRoute, route_id)
            if row is None:
                raise NotFound(f"there is no console route {route_id}")
            self._fill(row, route)
            return row

    @staticmethod
    def _fill(row: ConsoleRoute, route: RouteIn) -> None:
        row.line, row.called, row.caller, row.csi = route.line, route.called, route.caller, route.csi
        row.users, row.voice, row.updated_at = ",".join(route.users), route.voice, utcnow()

    def delete_route(self, route_id: int) -> None:
        with self.store.writing() as session:
            row = session.get(ConsoleRoute, route_id)
            if row is None:
                raise NotFound(f"there is no console route {route_id}")
            session.delete(row)

    def move_route(self, route_id: int, step: int) -> None:
        """Move a route ``step`` places earlier (negative) or later (positive); positions
        are renumbered 1..n in the new order."""
        with self.store.writing() as session:
            rows = list(
                session.scalars(select(ConsoleRoute).order_by(ConsoleRoute.position, ConsoleRoute.id))
            )
            index = next((i for i, row in enumerate(rows) if row.id == route_id), None)
            if index is None:
                raise NotFound(f"there is no console route {route_id}")
            target = max(0, min(len(rows) - 1, index + step))
            rows.insert(target, rows.pop(index))
            for position, row in enumerate(rows, start=1):
                row.position = position

    # -- junk -----------------------------------------------------------------------

    def junk(self) -> list[ConsoleJunk]:
        with self.store.reading() as session:
            return list(session.scalars(select(ConsoleJunk).order_by(ConsoleJunk.field, ConsoleJunk.id)))

    def add_junk(self, field_name: str, pattern: str) -> ConsoleJunk:
        pattern = pattern.strip()
        if field_name not in JUNK_FIELDS:
            raise InvalidRoute(f"a junk entry matches {' or '.join(JUNK_FIELDS)}, not {field_name!r}")
        if not pattern or len(pattern) > 100:
            raise InvalidRoute("a junk pattern has 1 to 100 characters")
        with self.store.writing() as session:
            row = ConsoleJunk(field=field_name, pattern=pattern)
            session.add(row)
            session.flush()
            return row

    def delete_junk(self, junk_id: int) -> None:
        with self.store.writing() as session:
            row = session.get(ConsoleJunk, junk_id)
            if row is None:
                raise NotFound(f"there is no junk entry {junk_id}")
            session.delete(row)

    # -- what the router reads ------------------------------------------------------

    def user_names(self) -> list[str]:
        with self.store.reading() as session:
            return list(session.scalars(select(User.name).order_by(User.name)))

    def rules(self, config_users: Sequence[str] = ()) -> ConsoleRules:
        """One consistent read of everything the router needs."""
        skip = set(config_users)
        with self.store.reading() as session:
            routes = list(
                session.scalars(select(ConsoleRoute).order_by(ConsoleRoute.position, ConsoleRoute.id))
            )
            junk = list(session.scalars(select(ConsoleJunk).order_by(ConsoleJunk.id)))
            users = list(
                session.scalars(select(User).where(User.name.not_in(skip)) if skip else select(User))
            )
        compiled: list[tuple[int, RouteConfig]] = []
        for row in routes:
            try:
                compiled.append(
                    (
                        row.id,
                        RouteIn(
                            split_users(row.users), row.line, row.called, row.caller, row.csi, row.voice
                        ).config(),
                    )
                )
            except InvalidRoute:
                continue  # saved rows were checked; a later format change must not stop routing
        extra = {
            user.name: UserConfig(
                name=user.name,
                email=user.email or f"{user.name}@localhost",
                display_name=user.display_name,
                delivery="none",
            )
            for user in users
        }
        return ConsoleRules(
            routes=tuple(compiled),
            junk_callers=tuple(row.pattern for row in junk if row.field == "caller"),
            junk_csi=tuple(row.pattern for row in junk if row.field == "csi"),
            users=extra,
        )


class ConsoleRouting:
    """The console's rules for a router, read again at most every ``ttl`` seconds (a
    store error keeps the last snapshot: routing must not stop because a read failed)."""

    def __init__(
        self,
        store: Store,
        config_users: Sequence[str] = (),
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rows = ConsoleRouteStore(store)
        self.config_users = tuple(config_users)
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._rules = ConsoleRules()
        self._read_at: float | None = None

    def rules(self) -> ConsoleRules:
        with self._lock:
            now = self.clock()
            if self._read_at is None or now - self._read_at >= self.ttl:
                try:
                    self._rules = self.rows.rules(self.config_users)
                except UmfaxError as exc:
                    logger.warning(
                        "console routes not read; using the last ones read", extra={"error": str(exc)}
                    )
                self._read_at = now
            return self._rules
