"""Saved registry pages in HTML → the text blocks `ingest.page` parses.

The markup is not trusted to stay the same: only its blocks matter.  Chrome (head, scripts,
styles, navigation, header, footer…) is dropped; every block element, list item, table cell
and `<br>` ends a line; whitespace inside a line is collapsed.  The text then goes through the
same parser as a saved text page, so a markup change does not change the record.
"""

from __future__ import annotations

from html.parser import HTMLParser

from .errors import InputError
from .page import parse_page

MAX_PAGE_BYTES = 8 * 1024 * 1024  # a saved trial page is tens of kilobytes; a results page, hundreds

DROP_TAGS = frozenset(
    {
        "head",
        "script",
        "style",
        "nav",
        "header",
        "footer",
        "noscript",
        "svg",
        "template",
        "iframe",
    }
)
BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})


class _Blocks(HTMLParser):
    """The page's text, one block per line, read as a stream of tags: no tree is built, so time
    and memory grow with the page, never faster (a tree of a pathological 16 MB page took 70 s and
    1.4 GB)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.buffer: list[str] = []
        self.skipping: list[str] = []  # the open dropped elements (chrome, hidden), innermost last

    def flush(self) -> None:
        line = " ".join("".join(self.buffer).split())
        if line:
            self.lines.append(line)
        self.buffer.clear()

    def handle_starttag(self, tag, attrs) -> None:
        if self.skipping:
            if tag not in VOID_TAGS:
                self.skipping.append(tag)
            return
        if tag in DROP_TAGS or any(name == "hidden" for name, _ in attrs):
            if tag not in VOID_TAGS:
                self.skipping.append(tag)
            return
        if tag == "br" or tag in BLOCK_TAGS:
            self.flush()

    def handle_startendtag(self, tag, attrs) -> None:
        if not self.skipping and (tag == "br" or tag in BLOCK_TAGS):
            self.flush()

    def handle_endtag(self, tag) -> None:
        if self.skipping:
            if tag in self.skipping:  # close up to the element that ends (unclosed ones inside it too)
                del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag) :]
            return
        if tag in BLOCK_TAGS:
            self.flush()

    def handle_data(self, data) -> None:
        if not self.skipping:
            self.buffer.append(data)


def html_to_text(html: str) -> str:
    """HTML → one text block per line (chrome dropped, whitespace inside a block collapsed)."""
    reader = _Blocks()
    reader.feed(html)
    reader.close()
    reader.flush()
    return "\n".join(reader.lines)


def parse_html(html: str, name: str) -> tuple[dict, list[str]]:
    """A saved HTML page → (record, warnings), as `ingest.page.parse_page` reads its text.  A page
    over MAX_PAGE_BYTES is refused: no trial page is that large."""
    if len(html) > MAX_PAGE_BYTES:
        raise InputError(
            f"{name}: {len(html):,} characters of HTML, more than the {MAX_PAGE_BYTES:,} a trial page may be"
        )
    return parse_page(html_to_text(html), name)
