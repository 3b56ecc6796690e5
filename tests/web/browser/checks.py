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
    """Open ``path`` on a desktop, a phone and at 200 % zoom: screenshots, axe, no
    sideways scrolling, and on the desktop the skip link.  Returns the desktop page."""
    desktop = browsing.page(DESKTOP, storage_state)
    response = desktop.goto(path)
    assert response is not None and response.ok, f"{path}: {response.status if response else 'no answer'}"
    check_page(browsing, desktop, f"{name}-desktop")
    assert_skip_link_works(desktop)
    for viewport in (PHONE, ZOOM_200):
        small = browsing.page(viewport, storage_state)
        small.goto(path)
        browsing.shot(small, f"{name}-{viewport.name}")
        assert_no_horizontal_scroll(small)
    return desktop
