"""Engines for SQLite (WAL, the embedded default) and PostgreSQL, and migrations."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

from umfax.errors import StoreError, describe_error

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")

#: The newest migration; a test checks it is Alembic's head.  Lets a command skip
#: importing Alembic when the schema is current.
HEAD_REVISION = "0012"

#: pg_advisory_lock key held while migrating ("umfax" in ASCII).
MIGRATION_LOCK_KEY = 0x756D666178

#: Execution option that makes a SQLite transaction take the write lock at BEGIN,
#: so that read-then-write transactions never fail to upgrade their lock.
WRITE = "umfax_write"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions are not ours to time).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for ``url``: ``sqlite:///PATH`` or ``postgresql://…``."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store URL {url!r} is not a database URL") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_setup(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    raise StoreError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One migration at a time per database, across processes and nodes: two servers (or
    a server and a command) starting on a new store would otherwise both create tables.
    SQLite: a lock file beside the database; PostgreSQL: a session advisory lock."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            yield
            return
        lock_path = Path(url.database).expanduser().with_name(Path(url.database).name + ".migrate-lock")
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (one process at a time)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    try:
        with _migration_lock(engine):
            if current_revision(engine) == HEAD_REVISION:  # another process just did it
                return
            command.upgrade(_alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate the store at {engine.url!r}: {describe_error(exc)}") from exc
