"""Accessibility checks with axe-core (vendored in tests/web/vendor/axe-core), run inside
the page under test.

The script is evaluated through Playwright (the DevTools protocol), which the page's
Content-Security-Policy does not govern: the console keeps its real CSP (``script-src
'self'``) while axe runs, and no context needs ``bypass_csp``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js"
#: Violations at these levels fail a test; moderate and minor ones are printed only.
FAILING_IMPACTS = ("serious", "critical")
#: WCAG 2.1 A and AA plus axe's best practices (landmarks, one h1, skip links ...).
RUN_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    "resultTypes": ["violations"],
}


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate("options => axe.run(document, options)", RUN_OPTIONS)
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One readable block per violation: impact, rule, help, and the offending elements."""
    blocks = []
    for violation in violations:
        lines = [f"[{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"]
        for node in violation["nodes"][:8]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:160]}")
            summary = node.get("failureSummary", "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    ... and {len(violation['nodes']) - 8} more")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def axe_check(page: Page) -> list[dict[str, Any]]:
    """Fail on any serious or critical axe violation on ``page``; print the lesser ones.
    Returns all violations found."""
    violations = axe_violations(page)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    lesser = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    if lesser:
        print(f"axe on {page.url}, not failing:\n{describe(lesser)}")
    assert not failing, f"axe on {page.url}:\n{describe(failing)}"
    return violations
