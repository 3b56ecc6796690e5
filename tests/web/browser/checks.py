"""The checks every console page gets: a screenshot, axe, the skip link, and no sideways
scrolling on a phone and at 200 % zoom."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.web.browser.axe import axe_check
from tests.web.browser.browsing import DESKTOP, PHONE, ZOOM_200, Browsing
from tests.web.browser.layout import assert_no_horizontal_scroll, assert_skip_link_works


def check_page(browsing: Browsing, page: Page, name: str) -> None:
    """The page as it is now: screenshot, no serious/critical axe violation, no sideways
    scrolling at this viewport."""
    browsing.shot(page, name)
    axe_check(page)
    assert_no_horizontal_scroll(page)


def check_page_everywhere(
    browsing: Browsing, path: str, name: str, storage_state: Path | None = None
) -> Page:
    """Open ``path`` on a desktop (its CSP header, screenshot, axe, skip link), then resize the same page to
    a phone and to a 200 %-zoomed window (screenshots, no sideways scrolling).  Returns the page."""
    page = browsing.page(DESKTOP, storage_state)
    response = page.goto(path)
    assert response is not None and response.ok, f"{path}: {response.status if response else 'no answer'}"
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, f"{path}: CSP {policy!r}"
    check_page(browsing, page, f"{name}-{DESKTOP.name}")
    assert_skip_link_works(page)
    for viewport in (PHONE, ZOOM_200):  # layout in CSS pixels: the device scale does not change it
        page.set_viewport_size({"width": viewport.width, "height": viewport.height})
        page.evaluate("() => window.scrollTo(0, 0)")  # the skip link check scrolled to <main>
        browsing.shot(page, f"{name}-{viewport.name}", full_page=False)
        assert_no_horizontal_scroll(page)
    return page
