"""Test support: write a v2 study's text the way the registry's history answers do.

The reverse of `trialwatch.ingest.markup`: `render_as_history(study)` turns every `text` and
`markup` field (markup.FIELD_KINDS) of an API v2 study into the HTML of
`GET /api/int/studies/{id}?history=true`, so the normaliser can be checked on a round trip
over real v2 records.

Conventions taken from the real answer `tests/fixtures/ctgov/history/NCT03690141.details-html.json`:
- `/` is written `&#x2F;` (detailedDescription `apalutamide and&#x2F;or abiraterone`);
  characters outside ASCII are written as they are (secondary outcome `a ≥25% increase`);
- a markup value of one paragraph is bare text (detailedDescription, the arm description);
  of several paragraphs, each is in `<p>…</p>` (briefSummary `<p>…CRPC.</p><p>An Open-label…</p>`);
- a bullet list is `<ul><li>…</li><li>…</li></ul>`, no whitespace between the tags, an item of one
  paragraph bare inside its `<li>` (primary outcome description);
- search highlights are `<mark class="hl-term">CRPC</mark>` around a whole word, in titles,
  conditions and keywords (query.cond=CRPC: briefSummary, which says "CRPC" too, has none).

Guessed (no real example): `&`, `<`, `>`, `"`, `'` written `&amp;`, `&lt;`, `&gt;`, `&quot;`,
`&#x27;` (the usual encoder that writes `&#x2F;` writes these too); numbered lists as `<ol><li>`
(`start` when not 1); a container with more than one block (an item with a nested list) puts
each paragraph in `<p>`; "escaped twice" encodes the text again (`&amp;#x2F;`), tags once.
"""

from __future__ import annotations

import re

from trialwatch.ingest.markup import FIELD_KINDS, MARKUP

MARK_OPEN = '<mark class="hl-term">'
MARK_CLOSE = "</mark>"

# The fields the sample highlights for query.cond (briefTitle, officialTitle, conditions, keywords).
MARK_FIELDS = frozenset(
    {
        "protocolSection.identificationModule.briefTitle",
        "protocolSection.identificationModule.officialTitle",
        "protocolSection.conditionsModule.conditions[]",
        "protocolSection.conditionsModule.keywords[]",
    }
)

_ENCODE = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "/": "&#x2F;"}
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MARKER = re.compile(r"(\*|[0-9]{1,9}\.)(?: |$)")


def encode(text: str, *, twice: bool = False) -> str:
    """HTML-encode text as the history answers do; `twice` encodes the result again."""
    for _ in range(2 if twice else 1):
        text = "".join(_ENCODE.get(c, c) for c in text)
    return text


def render_text(text: str, *, twice: bool = False, mark: str | None = None) -> str:
    """A v2 `text` value as the history writes it: encoded, `mark` highlighted as a word."""
    if not mark:
        return encode(text, twice=twice)
    parts = re.split(rf"\b({re.escape(mark)})\b", text, flags=re.IGNORECASE)
    return "".join(
        MARK_OPEN + encode(part, twice=twice) + MARK_CLOSE if i % 2 else encode(part, twice=twice)
        for i, part in enumerate(parts)
    )


def render_markup(markdown: str, *, twice: bool = False, mark: str | None = None) -> str:
    """A v2 Markdown value as the history writes it: `<p>`, `<ul>/<ol><li>`, encoded text
    (Markdown escapes removed), `mark` highlighted."""
    return _html(_blocks(markdown.split("\n")), twice, mark)


def render_as_history(study: dict, *, twice: bool = False, mark: str | None = None, mark_fields=MARK_FIELDS) -> dict:
    """A copy of a v2 study with its text and markup fields as a history answer has them;
    `mark` is highlighted in the fields of `mark_fields` only."""

    def walk(value, path):
        """`value` at `path` (list items as `[]`) rendered by its kind; containers copied."""
        if type(value) is dict:
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        if type(value) is list:
            return [walk(v, path + "[]") for v in value]
        kind = FIELD_KINDS.get(path)
        if type(value) is not str or kind is None:
            return value
        term = mark if path in mark_fields else None
        render = render_markup if kind == MARKUP else render_text
        return render(value, twice=twice, mark=term)

    return walk(study, "")


def _blocks(lines: list[str]) -> list:
    """v2 Markdown lines → [("p", text) | ("ul"/"ol", start, [item blocks…])]."""
    blocks, i = [], 0
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        if marker:
            block, i = _list_at(lines, i, marker.group(1) == "*")
            blocks.append(block)
            continue
        if lines[i].strip():
            blocks.append(("p", lines[i].strip()))
        i += 1
    return blocks


def _list_at(lines: list[str], i: int, bullets: bool) -> tuple[tuple, int]:
    """The list whose first item is line `i` → (block, index after it): each item takes the
    lines (and blank lines) indented by its marker's width."""
    items, start = [], _MARKER.match(lines[i]).group(1)
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        if not marker or (marker.group(1) == "*") != bullets:
            break
        width = len(marker.group(1)) + 1
        body, i = [lines[i][marker.end() :]], i + 1
        while i < len(lines) and (lines[i].startswith(" " * width) or not lines[i].strip()):
            body.append(lines[i][width:])
            i += 1
        items.append(_blocks(body))
    if bullets:
        return ("ul", 1, items), i
    return ("ol", int(start[:-1]), items), i


def _html(blocks: list, twice: bool, mark: str | None) -> str:
    """Blocks → the registry's HTML: a lone paragraph bare, otherwise paragraphs in `<p>`."""
    if len(blocks) == 1 and blocks[0][0] == "p":
        return _inline(blocks[0][1], twice, mark)
    out = []
    for block in blocks:
        if block[0] == "p":
            out.append(f"<p>{_inline(block[1], twice, mark)}</p>")
            continue
        kind, start, items = block
        open_tag = f'<ol start="{start}">' if kind == "ol" and start != 1 else f"<{kind}>"
        body = "".join(f"<li>{_html(item, twice, mark)}</li>" for item in items)
        out.append(f"{open_tag}{body}</{kind}>")
    return "".join(out)


def _inline(text: str, twice: bool, mark: str | None) -> str:
    """Paragraph text: Markdown escapes removed (`\\<` → `<`), then encoded."""
    return render_text(_MD_ESCAPE.sub(r"\1", text), twice=twice, mark=mark)
