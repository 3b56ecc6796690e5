"""Session-wide fixtures: the store on every backend.

The servers the tests start (Dovecot, PostgreSQL, a document server, ``umfax serve``
sites) come from the plugin :mod:`tests.servers.fixtures`, the fake fax peers from
:mod:`tests.peers.fixtures`, the SIP/T.38 peers from :mod:`tests.servers.sip_fixtures`;
all are registered here for every directory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.postgres import PostgresCluster
from umfax.store import Store
from umfax.store.database import make_engine, upgrade

pytest_plugins = ["tests.peers.fixtures", "tests.servers.fixtures", "tests.servers.sip_fixtures"]

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster) -> str:
    """A database with the schema migrated, cloned for each test."""
    name = "umfax_template"
    url = pg_cluster.create_database(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return name


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'umfax.db'}"


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database URL on each backend."""
    yield from fresh_store_url(request, tmp_path, request.param)


def fresh_store_url(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[str]:
    if backend == "sqlite":
        url = _sqlite_url(tmp_path)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    template: str = request.getfixturevalue("pg_template")
    name = f"umfax_test_{next(_counter)}"
    url = cluster.create_database(name, template=template)
    yield url
    cluster.drop_database(name)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    st = Store(make_engine(store_url))
    yield st
    st.close()
