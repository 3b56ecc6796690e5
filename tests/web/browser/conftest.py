"""Fixtures of the browser tests: one Chromium per session (Debian's, nothing downloaded),
one real ``umfax serve`` per session, and per test a :class:`Browsing` that opens pages and
saves screenshots.

Screenshots go to ``$UMFAX_WEB_SHOTS/<test>/`` when that variable names a directory, else
to ``<pytest's basetemp>/web-shots/<test>/`` (never into the repository).
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.web.browser.browsing import Browsing
from tests.web.browser.console_server import ConsoleServer, start_console_server

CHROMIUM = Path("/usr/lib/chromium/chromium")  # Debian's chromium (scripts/apt-packages.txt)
SHOTS_ENV = "UMFAX_WEB_SHOTS"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item (``rep_call``): :func:`browsing` takes
    screenshots of the open pages when the test failed."""
    report: pytest.TestReport = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/apt-packages.txt)")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """A real ``umfax serve`` on embedded defaults, one for the session (it takes seconds
    to start and stop).  The scenario's first step needs it without an administrator:
    other modules must not create one."""
    server = start_console_server(tmp_path_factory.mktemp("console"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shots_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(SHOTS_ENV)
    root = Path(given) if given else tmp_path_factory.getbasetemp() / "web-shots"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def browsing(
    chromium: Browser, console: ConsoleServer, shots_root: Path, request: pytest.FixtureRequest
) -> Iterator[Browsing]:
    """Pages on the console; at the end, no page may have logged a CSP refusal
    or an uncaught script error."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    session = Browsing(chromium, console.url, shots_root / name)
    yield session
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        session.shoot_all("at-failure")
    session.close()
    assert not session.problems, "\n".join(session.problems)
