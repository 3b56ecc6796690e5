"""pytest fixtures for real third-party fax peers.

Registered for every directory by the root conftest (``pytest_plugins``): a test
asks for ``iaxmodem_pair`` and friends by name, nothing to import.

Fixtures here are function-scoped: every test gets fresh iaxmodem instances (a modem
left in data mode stays stuck until restart). On a failed test the logs of every peer
process are printed in the teardown section of the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .hylafax import HylaFax, start_hylafax
from .iaxmodem import IaxModemPair, start_iaxmodem_pair
from .procs import peer_workdir, require_binaries, tail

__all__ = ["hylafax_receiver", "iaxmodem_pair", "peers_workdir", "skip_unless_installed"]


def _test_failed_since(request: pytest.FixtureRequest, failed_before: int) -> bool:
    # Session.testsfailed is bumped when a setup/call report fails, before our teardown.
    return int(request.session.testsfailed) > failed_before


def _dump_logs(workdir: Path) -> None:
    print(f"\n===== peer logs from {workdir} =====")
    for log in sorted(workdir.rglob("*.log")):
        print(f"----- {log} -----\n{tail(log, 200)}")


def skip_unless_installed(*binaries: str) -> None:
    """Skip the test if a peer binary is missing (scripts/test installs them)."""
    missing = require_binaries(*binaries)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (see scripts/apt-packages.txt)")


@pytest.fixture
def peers_workdir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A short, world-traversable temp dir (``/tmp/umfp-XXXX``) for peer configs, ptys,
    spools and logs. Its ``*.log`` files are printed if the test fails; it is removed
    afterwards unless UMFAX_PEERS_KEEP=1."""
    failed_before = int(request.session.testsfailed)
    with peer_workdir() as workdir:
        yield workdir
        if _test_failed_since(request, failed_before):
            _dump_logs(workdir)


@pytest.fixture
def iaxmodem_pair(peers_workdir: Path) -> Iterator[IaxModemPair]:
    """Two fresh iaxmodems calling each other on 127.0.0.1 (``pair.a.device``,
    ``pair.b.device`` are their ptys), both answering AT; killed after the test."""
    skip_unless_installed("iaxmodem")
    with start_iaxmodem_pair(peers_workdir) as pair:
        yield pair


@pytest.fixture
def hylafax_receiver(iaxmodem_pair: IaxModemPair, peers_workdir: Path) -> Iterator[HylaFax]:
    """HylaFAX (faxq + faxgetty, private spool) answering on ``iaxmodem_pair.b``; ready
    ("Running and idle") when the test starts. Dial it from ``iaxmodem_pair.a``."""
    skip_unless_installed("faxq", "faxgetty")
    with start_hylafax(peers_workdir, iaxmodem_pair.b.device) as hylafax:
        yield hylafax
