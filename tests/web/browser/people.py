"""The people of the browser scenario: accounts, signing in through the real pages (with
TOTP when the account has or needs it), and their saved browser sessions."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, Page

from tests.web.browser.console_server import ConsoleServer
from umfax.config import Config, ServerConfig
from umfax.store import open_store
from umfax.store.accounts import AccountStore

PASSWORD = "correct horse battery staple"
_BASE32 = re.compile(r"\b[A-Z2-7]{16,}\b")


@dataclass
class Person:
    name: str
    email: str
    password: str = PASSWORD
    totp_secret: str | None = None
    state: Path | None = None  # Playwright storage state: the signed-in session


def add_account(console: ConsoleServer, person: Person, admin: bool = False) -> None:
    """Create the account in the server's store (the console's users page and ``umfax
    user add`` are exercised elsewhere; here the scenario only needs the person)."""
    store = open_store(Config(server=ServerConfig(data_dir=console.data_dir)), migrate=False)
    try:
        AccountStore(store).create(person.name, person.email, password=person.password, admin=admin)
    finally:
        store.close()


def add_route(console: ConsoleServer, called: str, users: tuple[str, ...]) -> None:
    """A console route (faxes to ``called`` go to ``users``) put straight in the store:
    the scenario's first received fax needs an owner before the admin pages edit routes."""
    from umfax.store.console_routing import ConsoleRouteStore, RouteIn

    store = open_store(Config(server=ServerConfig(data_dir=console.data_dir)), migrate=False)
    try:
        ConsoleRouteStore(store).add_route(RouteIn(users=users, called=called))
    finally:
        store.close()


def totp_code(secret: str) -> str:
    """The current code, not one about to expire (a code read in its last two seconds
    could be stale when the server checks it)."""
    totp = pyotp.TOTP(secret)
    if totp.interval - time.time() % totp.interval < 2:
        time.sleep(2.5)
    return totp.now()


def _second_factor(page: Page, person: Person) -> None:
    """Answer the TOTP enrolment or code page if the sign-in led to one."""
    if "/account/totp" in page.url:  # enrolment: the secret is shown on the page
        found = _BASE32.search(page.locator("main").inner_text().replace(" ", ""))
        assert found, f"no TOTP secret shown on {page.url}"
        person.totp_secret = found.group(0)
    if "/totp" in page.url:
        assert person.totp_secret, f"{person.name} has no TOTP secret for {page.url}"
        page.get_by_label(re.compile("code", re.I)).first.fill(totp_code(person.totp_secret))
        page.get_by_role("button", name=re.compile("verify|confirm|sign in|continue", re.I)).first.click()


def sign_in(page: Page, person: Person, next_path: str = "/") -> None:
    """Sign in through /signin (and the second factor), ending on ``next_path``."""
    page.goto("/signin?next=" + next_path)
    page.get_by_label("Name or email").fill(person.name)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    _second_factor(page, person)
    assert "/signin" not in page.url and "/totp" not in page.url, f"{person.name} is not in: {page.url}"


def save_session(browser: Browser, console: ConsoleServer, person: Person, where: Path) -> None:
    """Sign ``person`` in once and keep the session for later pages."""
    context = browser.new_context(base_url=console.url)
    try:
        page = context.new_page()
        sign_in(page, person)
        person.state = where / f"{person.name}.json"
        context.storage_state(path=str(person.state))
    finally:
        context.close()
