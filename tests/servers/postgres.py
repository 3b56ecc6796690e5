"""A throwaway PostgreSQL cluster on 127.0.0.1 for one test session.

PostgreSQL refuses to run as root, so when the tests run as root the cluster is
created and started as the ``postgres`` user (via ``setpriv``).

The server binaries (``initdb``, ``pg_ctl``) are found on the PATH or under
``/usr/lib/postgresql/*/bin``; ``UMFAX_TEST_PG_BINDIR`` names their directory instead.
Without them the ``pg_cluster`` fixture (:mod:`tests.servers.fixtures`) skips.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers.ports import free_port

BINDIR_ENV = "UMFAX_TEST_PG_BINDIR"


def postgres_bindir() -> Path | None:
    """The directory of the PostgreSQL server binaries, or None when they are not
    installed (or not where ``UMFAX_TEST_PG_BINDIR`` says)."""
    chosen = os.environ.get(BINDIR_ENV)
    if chosen:
        return Path(chosen) if (Path(chosen) / "initdb").exists() else None
    for tool in ("pg_ctl", "initdb"):
        found = shutil.which(tool)
        if found and Path(found).resolve().parent.joinpath("initdb").exists():
            return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int
    user: str
    datadir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str, template: str = "template1") -> str:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]


@contextmanager
def postgres_cluster(durable: bool = False) -> Iterator[PostgresCluster]:
    """``durable``: keep fsync and synchronous commit on (benchmarks); tests turn them off."""
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found; `apt-get install postgresql`")
    root = Path(tempfile.mkdtemp(prefix="umfax-pg-"))
    datadir = root / "data"
    os.chmod(root, 0o755)
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    log = root / "postgres.log"
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(datadir),
                    "-U",
                    user,
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories={root} -c max_connections=200"
        )
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(datadir),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start; log:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield PostgresCluster("127.0.0.1", port, user, datadir)
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace")
        if log.exists():
            detail += "\n" + log.read_text()
        raise RuntimeError(f"PostgreSQL cluster failed to start: {detail}") from exc
    finally:
        if (datadir / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
