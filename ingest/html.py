"""Saved registry pages in HTML → the text blocks `ingest.page` parses.

The markup is not trusted to stay the same: only its blocks matter.  Chrome (head, scripts,
styles, navigation, header, footer…) is dropped; every block element, list item, table cell
and `<br>` ends a line; whitespace inside a line is collapsed.  The text then goes through the
same parser as a saved text page, so a markup change does not change the record.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from .page import parse_page

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
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)


def html_to_text(html: str) -> str:
    """HTML → one text block per line (chrome dropped, whitespace inside a block collapsed)."""
    soup = BeautifulSoup(html, "html.parser")
    lines: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        line = " ".join("".join(buffer).split())
        if line:
            lines.append(line)
        buffer.clear()

    # Iterative walk (deeply nested markup must not hit the recursion limit); None marks a block's end.
    stack: list = list(reversed(soup.contents))
    while stack:
        node = stack.pop()
        if node is None:
            flush()
        elif isinstance(node, NavigableString):
            if not isinstance(node, _NOT_TEXT):
                buffer.append(str(node))
        elif isinstance(node, Tag):
            if node.name in DROP_TAGS or node.has_attr("hidden"):
                continue
            if node.name == "br":
                flush()
                continue
            if node.name in BLOCK_TAGS:
                flush()
                stack.append(None)
            stack.extend(reversed(node.contents))
    flush()
    return "\n".join(lines)


def parse_html(html: str, name: str) -> tuple[dict, list[str]]:
    """A saved HTML page → (record, warnings), as `ingest.page.parse_page` reads its text."""
    return parse_page(html_to_text(html), name)
