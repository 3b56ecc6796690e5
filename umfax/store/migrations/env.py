"""Alembic environment: migrations run on the engine umfax hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from umfax.store import console_models  # noqa: F401 - the console's tables, on Base
from umfax.store.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("umfax migrations run through umfax.store.database.upgrade()")

# Take SQLite's write lock at BEGIN so that two processes migrating at once queue up
# instead of failing to upgrade a read lock.
with engine.execution_options(umfax_write=True).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
