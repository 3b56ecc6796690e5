"""Several processes (here: threads, each with its own engine) migrating a new store at
once: one migrates, the others wait and find it done; none fails on tables that exist."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from tests.servers.postgres import PostgresCluster
from umfax.store.database import HEAD_REVISION, current_revision, make_engine, upgrade

_names = itertools.count()


def _migrate_at_once(url: str, starters: int = 4) -> list[BaseException]:
    errors: list[BaseException] = []
    go = threading.Barrier(starters)

    def one() -> None:
        engine = make_engine(url)
        try:
            go.wait()
            upgrade(engine)
        except BaseException as exc:  # collected: the test names every failure
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=one) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_sqlite_store_migrated_by_four_starters_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert _migrate_at_once(url) == []
    assert current_revision(make_engine(url)) == HEAD_REVISION


@pytest.mark.postgres
def test_postgresql_store_migrated_by_four_starters_at_once(pg_cluster: PostgresCluster) -> None:
    url = pg_cluster.create_database(f"umfax_migrate_{next(_names)}")
    try:
        assert _migrate_at_once(url) == []
        engine = make_engine(url)
        assert current_revision(engine) == HEAD_REVISION
        engine.dispose()
    finally:
        pg_cluster.drop_database(url.rsplit("/", 1)[-1])
