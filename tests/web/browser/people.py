"""The people of the browser scenario, and signing in through the real pages: password,
then the TOTP code (computed with pyotp from the secret the enrolment page showed)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, Page

from tests.web.browser.console_server import ConsoleServer

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    name: str
    email: str
    password: str = PASSWORD
    totp_secret: str | None = None
    last_step: int = -1  # the last TOTP step whose code was used (the server refuses replays)
    state: Path | None = None  # Playwright storage state: the signed-in session


def totp_code(person: Person) -> str:
    """A code the server accepts now: the current step's, or the next step's (accepted
    one step early) when the current one was used already."""
    assert person.totp_secret, f"{person.name} has no authenticator"
    totp = pyotp.TOTP(person.totp_secret)
    step = int(time.time() // totp.interval)
    if person.last_step > step:  # both usable steps spent: wait for the next one
        time.sleep(totp.interval - time.time() % totp.interval + 0.2)
        step += 1
    use = max(step, person.last_step + 1)
    person.last_step = use
    return str(totp.generate_otp(use))


def enrol_totp(page: Page, person: Person) -> None:
    """On /account/totp: read the key shown, answer with its code, turn it on."""
    page.goto("/account/totp")
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{16,}=*", secret), f"not a TOTP key: {secret!r}"
    person.totp_secret = secret
    page.get_by_label("Code from the app").fill(totp_code(person))
    page.get_by_role("button", name="Turn on").click()
    page.wait_for_load_state()


def sign_in(page: Page, person: Person, next_path: str = "/") -> None:
    """Sign in through /signin (and /signin/totp when the account has an authenticator)."""
    page.goto("/signin?next=" + next_path)
    page.get_by_label("Name or email").fill(person.name)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if "/signin/totp" in page.url:
        page.get_by_label(re.compile("code", re.I)).fill(totp_code(person))
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
    assert "/signin" not in page.url, f"{person.name} is not signed in: {page.url}"


def save_session(browser: Browser, console: ConsoleServer, person: Person, where: Path) -> None:
    """Sign ``person`` in and keep the session (cookies) for later pages."""
    context = browser.new_context(base_url=console.url)
    try:
        page = context.new_page()
        sign_in(page, person)
        keep_session(page, person, where)
    finally:
        context.close()


def keep_session(page: Page, person: Person, where: Path) -> None:
    """Keep the session ``page`` is signed in with as ``person``'s."""
    person.state = where / f"{person.name}.json"
    page.context.storage_state(path=str(person.state))
