"""Fixtures that start the tests' servers, for every directory (registered as a plugin by
the root conftest): Dovecot, PostgreSQL, a document web server, ``umfax serve`` sites.

A server that is not installed makes its tests skip, with a reason saying what to install.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import documents
from tests.servers.dovecot import DovecotServer, ImapUser, dovecot_binary
from tests.servers.postgres import BINDIR_ENV, PostgresCluster, postgres_bindir, postgres_cluster
from tests.servers.umfax_site import UmfaxSite, kill_servers, new_site


def require_dovecot() -> None:
    if dovecot_binary() is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; scripts/test does it)")


def require_postgres() -> None:
    if postgres_bindir() is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found "
            f"(apt-get install postgresql; scripts/test does it; or set {BINDIR_ENV})"
        )


# -- mail ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the session; tests isolate themselves with their own users."""
    require_dovecot()
    with DovecotServer() as server:
        yield server


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of the test's own, for tests that restart or stop it."""
    require_dovecot()
    with DovecotServer() as server:
        yield server


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> ImapUser:
    """A fresh user with an empty mailbox on the session's Dovecot."""
    return dovecot.add_user()


# -- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the session; skips when PostgreSQL is not installed."""
    require_postgres()
    with postgres_cluster() as cluster:
        yield cluster


# -- the web -------------------------------------------------------------------------------


@pytest.fixture
def document_server() -> Iterator[str]:
    """The base URL of a web server with ``/doc.txt`` (and ``/moved`` redirecting to it)."""
    with documents.document_server() as url:
        yield url


# -- umfax itself ----------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Iterator[UmfaxSite]:
    """A site under ``tmp_path`` (simulated lines at speed 20); its servers are killed at
    the end."""
    umfax_site = new_site(tmp_path, speed=20)
    yield umfax_site
    kill_servers(umfax_site)


@pytest.fixture
def sites() -> Iterator[list[UmfaxSite]]:
    """Sites made by the test; their servers are killed at the end, whatever happened."""
    made: list[UmfaxSite] = []
    yield made
    for umfax_site in made:
        kill_servers(umfax_site)
