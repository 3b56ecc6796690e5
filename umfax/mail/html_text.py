"""HTML made readable as plain text, for the body of a mail message that has no plain
text: block elements on their own lines, list items bulleted, table cells separated,
scripts and styles dropped, whitespace collapsed outside ``<pre>``.

Sans-IO: a pure function of the HTML, built on :class:`html.parser.HTMLParser`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
}
_SKIP_TAGS = {"head", "script", "style", "title", "template", "noscript", "xml"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _HtmlText(HTMLParser):
    """HTML made readable: block elements on their own lines, list items bulleted, table
    cells separated, scripts and styles dropped, whitespace collapsed outside <pre>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.line: list[str] = []

    def _newline(self, blank: bool = False, force: bool = False) -> None:
        """End the current line; ``force`` keeps it even when empty (``<br><br>``),
        ``blank`` adds a blank line after it (paragraphs)."""
        text = "".join(self.line)
        self.line = []
        if not self.pre:
            text = " ".join(text.split())
        if text or force:
            self.out.append(text)
        if blank and self.out and self.out[-1] != "":
            self.out.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag not in _VOID_TAGS:
                self.skip += 1
            return
        if tag == "br":
            self._newline(force=True)
        elif tag in ("td", "th"):
            self.line.append("  ")
        elif tag in _BLOCK_TAGS:
            self._newline(blank=tag in ("p", "table", "blockquote", "h1", "h2", "h3", "hr"))
            if tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.line.append("- ")
            elif tag == "hr":
                self.out.append("-" * 20)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._newline(force=True)
        elif tag == "hr":
            self._newline(blank=True)
            self.out.append("-" * 20)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if tag in _BLOCK_TAGS:
            self._newline(blank=tag in ("p", "table", "blockquote", "h1", "h2", "h3"))
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            lines = data.split("\n")
            for k, piece in enumerate(lines):
                if k:
                    self._newline(force=True)
                self.line.append(piece)
        else:
            self.line.append(data.replace("\u00a0", " ").replace("\n", " ").replace("\r", " "))

    def text(self) -> str:
        self._newline()
        return "\n".join(self.out).strip("\n")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
        return parser.text()
    except Exception:  # HTMLParser is tolerant; this is a last resort
        return " ".join(re.sub(r"<[^>]*>", " ", html).split())
