"""Checks of how a page lays out and answers the keyboard."""

from __future__ import annotations

from playwright.sync_api import Page

#: Horizontal overflow of the document and of <main>, in CSS pixels (a table in its own
#: scrolling wrapper is fine: the page itself must not scroll sideways).
_OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const main = document.querySelector('main');
  return {
    document: doc.scrollWidth - doc.clientWidth,
    main: main ? main.scrollWidth - main.clientWidth : 0,
    width: doc.clientWidth,
  };
}"""


def horizontal_overflow(page: Page) -> dict[str, int]:
    overflow: dict[str, int] = page.evaluate(_OVERFLOW_JS)
    return overflow


def assert_no_horizontal_scroll(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert overflow["document"] <= 0 and overflow["main"] <= 0, (
        f"{page.url} scrolls sideways at {overflow['width']} CSS px: {overflow}"
    )


_FOCUSED_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return '';
  const label = el.labels && el.labels.length ? el.labels[0].textContent
    : (el.getAttribute('aria-label') || el.textContent || el.value || el.name || el.id || '');
  return el.tagName.toLowerCase() + ':' + label.trim().replace(/\\s+/g, ' ');
}"""


def focused(page: Page) -> str:
    """``tag:accessible-ish name`` of the focused element ('' for none)."""
    name: str = page.evaluate(_FOCUSED_JS)
    return name


def _start_at_top(page: Page) -> None:
    """Put the keyboard's starting point at the top of the page, as on arrival without
    ``autofocus``: focus <body> (made focusable for a moment), so the next Tab goes to the
    first focusable element."""
    page.evaluate(
        """() => {
          const body = document.body;
          body.setAttribute('tabindex', '-1');
          body.focus();
          body.removeAttribute('tabindex');
        }"""
    )


def tab_stops(page: Page, limit: int = 40) -> list[str]:
    """The elements Tab visits from the top of the page, in order (at most ``limit``)."""
    _start_at_top(page)
    stops: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        current = focused(page)
        if stops and current == stops[0]:
            break
        stops.append(current)
    return stops


def assert_skip_link_works(page: Page) -> None:
    """The first Tab stop is the skip link, it becomes visible, and Enter moves focus to <main>."""
    _start_at_top(page)
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert focused(page).startswith("a:Skip to"), f"first Tab stop is {focused(page)!r}"
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, f"the focused skip link is off screen: {box}"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement && document.activeElement.id") == "main"
