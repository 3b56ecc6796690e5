"""The console skeleton in Chromium: the sign-in redirect, the security headers, the CSP
actually enforced by the browser, and the static files."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import Error

from tests.web.browser.browsing import Browsing

pytestmark = pytest.mark.browser


def test_the_console_sends_a_stranger_to_sign_in_with_its_security_headers(browsing: Browsing) -> None:
    page = browsing.page()
    response = page.goto("/")
    assert response is not None
    assert page.url.endswith("/signin?next=/")
    redirect = response.request.redirected_from
    assert redirect is not None
    first = redirect.response()
    assert first is not None and first.status == 303
    for answer in (first, response):
        headers = answer.headers
        assert "script-src 'self';" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


def test_the_browser_enforces_the_csp_against_inline_script(browsing: Browsing) -> None:
    page = browsing.page()
    page.goto("/signin")
    with contextlib.suppress(Error):  # Playwright may report the refused script as an error
        page.add_script_tag(content="window.injected = true;")
    assert page.evaluate("() => window.injected === true") is False
    refused = [p for p in browsing.problems if "inline script" in p]
    assert refused, f"no CSP refusal reported: {browsing.problems}"
    browsing.problems = [p for p in browsing.problems if p not in refused]


def test_static_files_are_served_to_the_browser(browsing: Browsing) -> None:
    page = browsing.page()
    css = page.goto("/static/console.css")
    assert css is not None and css.status == 200 and css.headers["content-type"].startswith("text/css")
    js = page.goto("/static/console.js")
    assert js is not None and js.status == 200 and "javascript" in js.headers["content-type"]
