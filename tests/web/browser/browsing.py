"""Pages in Chromium for one test: contexts at a chosen viewport, screenshots into the
test's output directory, and the page problems a test must not leave behind (Content-
Security-Policy refusals, uncaught script errors)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    scale: float = 1.0


DESKTOP = Viewport("desktop", 1280, 800)
PHONE = Viewport("phone", 375, 667, 2.0)
#: A 1280x800 window at 200 % zoom: half the CSS pixels, each drawn twice as large.
ZOOM_200 = Viewport("zoom200", 640, 400, 2.0)


@dataclass
class Browsing:
    """Opens pages on the console for one test and remembers what went wrong in them."""

    browser: Browser
    base_url: str
    shots_dir: Path
    problems: list[str] = field(default_factory=list)
    _contexts: list[BrowserContext] = field(default_factory=list)
    _shot_count: int = 0

    def page(self, viewport: Viewport = DESKTOP, storage_state: Path | None = None) -> Page:
        """A fresh page in its own context (its own cookies unless ``storage_state`` gives
        a signed-in session)."""
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "viewport": {"width": viewport.width, "height": viewport.height},
            "device_scale_factor": viewport.scale,
            "locale": "en-GB",
            "timezone_id": "UTC",
        }
        if storage_state is not None:
            options["storage_state"] = str(storage_state)
        context = self.browser.new_context(**options)
        context.set_default_timeout(15_000)
        self._contexts.append(context)
        page = context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and re.search(r"Content Security Policy|Refused to", message.text):
            self.problems.append(f"CSP: {message.text} at {message.location.get('url', '?')}")

    def shot(self, page: Page, name: str, full_page: bool = True) -> Path:
        """Save a PNG of ``page`` as ``NN-name.png`` in this test's shots directory."""
        self._shot_count += 1
        self.shots_dir.mkdir(parents=True, exist_ok=True)
        path = self.shots_dir / f"{self._shot_count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    def shoot_all(self, name: str) -> None:
        """A screenshot of every page still open (after a failure: what the test saw)."""
        for context in self._contexts:
            for page in context.pages:
                with contextlib.suppress(Error):
                    self.shot(page, name)

    def close(self) -> None:
        for context in self._contexts:
            with contextlib.suppress(Error):  # already closed with the browser
                context.close()
        self._contexts.clear()
