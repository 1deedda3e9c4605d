"""Words that stand alone: a trial named by id and short title, a changed text shown old → new.

A change row says *what* changed in one line (`summary`); a reader of a mail or a feed also
wants to see *how* a text changed without opening the JSON.  `details(change)` gives, for a
change of text (an outcome's measure, time frame or description, eligibility criteria, a
description, why a trial stopped), one `Detail` per text that changed: its label and the
difference as segments, shortened to what changed (a word-level diff with a few words of
context for long texts; the whole old → new for short ones).  The renderers format segments as
text (`[-old-]{+new+}`, as git's word diff), Markdown (~~old~~ **new**) or HTML (<del>, <ins>).
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass

SHORT_TITLE = 60  # characters of a trial's title in report headings
CONTEXT_WORDS = 6  # words kept on each side of a difference in a long text
ITEM_SUMMARY_SHOWS = 60  # diff.LONG_TEXT: an item's text this short is shown whole in the summary
REWRITTEN = 0.5  # texts less alike than this (difflib's ratio) are shown whole, old then new
LONGEST_WHOLE = 60  # words of a whole text shown at most
SUMMARY_SHOWS = 80  # diff._show: a scalar text longer than this is cut in the summary
# Item keys that hold text worth showing (not identities or codes the summary already names).
_CODE_KEYS = {"type", "class", "role", "status", "source", "domain", "pmid", "country", "state", "city"}
# Fields whose value is a short code or number: the summary says it all.
_NO_DETAIL_FIELDS = {"status", "last_known_status", "study_type", "in_registry", "has_results", "enrollment"}
SAME, DELETED, INSERTED, GAP = "same", "del", "ins", "gap"


@dataclass
class Detail:
    """How one text of a change changed: `label` (empty for the change's own field) and segments
    `[(kind, text)]`, kind one of same, del, ins, gap (words left out)."""

    label: str
    segments: list[tuple[str, str]]


def short_title(title: str | None, limit: int = SHORT_TITLE) -> str:
    """A trial's brief title cut at a word boundary to about `limit` characters."""
    text = " ".join((title or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    cut = cut if text[limit] == " " else cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:-–( ") + "…"


def trial_name(nct_id: str, titles: dict | None) -> str:
    """`NCT01234567 Short title`, or the id alone when the title is not known."""
    title = short_title((titles or {}).get(nct_id))
    return f"{nct_id} {title}" if title else nct_id


def word_diff(old: str | None, new: str | None) -> list[tuple[str, str]]:
    """Segments from `old` to `new`, word by word, long unchanged runs cut to their edges."""
    old_words, new_words = (old or "").split(), (new or "").split()
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    if matcher.ratio() < REWRITTEN:  # rewritten rather than edited: both whole reads better
        return [(kind, _cut(text)) for kind, text in ((DELETED, old_words), (INSERTED, new_words)) if text]
    segments: list[tuple[str, str]] = []
    opcodes = matcher.get_opcodes()
    for index, (tag, a1, a2, b1, b2) in enumerate(opcodes):
        if tag == "equal":
            segments += _context(old_words[a1:a2], first=index == 0, last=index == len(opcodes) - 1)
            continue
        if a2 > a1:
            segments.append((DELETED, " ".join(old_words[a1:a2])))
        if b2 > b1:
            segments.append((INSERTED, " ".join(new_words[b1:b2])))
    return segments


def _cut(words: list[str]) -> str:
    return " ".join(words) if len(words) <= LONGEST_WHOLE else " ".join(words[:LONGEST_WHOLE]) + " …"


def _context(run: list[str], *, first: bool, last: bool) -> list[tuple[str, str]]:
    """An unchanged run of words: whole when short, else its edges next to the differences."""
    keep = CONTEXT_WORDS
    if len(run) <= keep * (1 if first or last else 2) + 2:
        return [(SAME, " ".join(run))]
    head = [] if first else [(SAME, " ".join(run[:keep]))]
    tail = [] if last else [(SAME, " ".join(run[-keep:]))]
    return [*head, (GAP, "…"), *tail]


def _text(value) -> str | None:
    """A text value, or None for anything else (numbers, lists, objects)."""
    return value if isinstance(value, str) else None


def _item_details(old: dict, new: dict) -> list[Detail]:
    found = []
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key), new.get(key)
        if key in _CODE_KEYS or not all(v is None or isinstance(v, str) for v in (before, after)):
            continue
        longest = max(len(before or ""), len(after or ""))
        if longest > ITEM_SUMMARY_SHOWS and " ".join((before or "").split()) != " ".join((after or "").split()):
            found.append(Detail(key.replace("_", " "), word_diff(before, after)))
    return found


def _line_details(added: list, removed: list) -> list[Detail]:
    """Lines of a long text or criteria list: each removed line paired with the added line most
    like it (a reworded criterion), the rest shown whole."""
    added, removed = [str(a) for a in added or []], [str(r) for r in removed or []]
    found = []
    for line in list(removed):
        scored = [(difflib.SequenceMatcher(a=line.split(), b=other.split()).ratio(), other) for other in added]
        best = max(scored, default=(0.0, ""))
        if best[0] >= 0.5:
            removed.remove(line)
            added.remove(best[1])
            found.append(Detail("", word_diff(line, best[1])))
    found += [Detail("removed", [(DELETED, line)]) for line in removed]
    found += [Detail("added", [(INSERTED, line)]) for line in added]
    return found


def details(change: dict) -> list[Detail]:
    """What a change of text looks like, old → new; empty when the summary says it all."""
    field, old, new = change.get("field") or "", change.get("old"), change.get("new")
    if field in _NO_DETAIL_FIELDS or change.get("category") in ("dates", "enrollment"):
        return []
    if isinstance(old, dict) and isinstance(new, dict) and change.get("kind") in ("changed", "renamed"):
        return _item_details(old, new)
    if change.get("lines_added") or change.get("lines_removed"):
        if field in ("conditions", "keywords", "phases", "design.who_masked"):
            return []  # sets of short values: the summary lists them
        if isinstance(old, str) and isinstance(new, str) and max(len(old.split()), len(new.split())) <= 400:
            return [Detail("", word_diff(old, new))]
        found = _line_details(change.get("lines_added") or [], change.get("lines_removed") or [])
        summary = change.get("summary") or ""
        return [d for d in found if not (d.label and d.segments[0][1] in summary)]  # shown whole already
    if isinstance(old, str) or isinstance(new, str):
        longest = max(len(" ".join(str(v or "").split())) for v in (old, new))
        return [Detail("", word_diff(_text(old), _text(new)))] if longest > SUMMARY_SHOWS - 2 else []
    return []


# -- formats ------------------------------------------------------------------------------


def as_text(segments: list[tuple[str, str]]) -> str:
    marks = {DELETED: "[-{}-]", INSERTED: "{{+{}+}}", SAME: "{}", GAP: "{}"}
    return " ".join(marks[kind].format(text) for kind, text in segments)


def as_markdown(segments: list[tuple[str, str]]) -> str:
    def escape(text: str) -> str:
        return "".join("\\" + ch if ch in "\\`*_~[]<>|#" else ch for ch in text)

    marks = {DELETED: "~~{}~~", INSERTED: "**{}**", SAME: "{}", GAP: "{}"}
    return " ".join(marks[kind].format(escape(text)) for kind, text in segments)


def as_html(segments: list[tuple[str, str]]) -> str:
    marks = {DELETED: "<del>{}</del>", INSERTED: "<ins>{}</ins>", SAME: "{}", GAP: "{}"}
    return " ".join(marks[kind].format(html.escape(text)) for kind, text in segments)


def labelled(detail: Detail, body: str) -> str:
    return f"{detail.label}: {body}" if detail.label else body
