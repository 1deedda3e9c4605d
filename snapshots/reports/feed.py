"""Atom feeds of changes, for feed readers: one entry per change.

An entry's id is the change's identity, not a row number: the trial, the instant of the
snapshot that brought it, the field, the list item and the kind of change (and, for two alike
changes of one snapshot, which of them).  Change rows are recomputed when a snapshot is placed
late or records are reparsed; the same change keeps its id, so a reader never shows it twice.
The feed's own id is its selection (which trials, which severities), so the same subscription
made twice is one feed.  Written with the standard library's ElementTree (RFC 4287).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from trialwatch.snapshots.reports.words import as_html, details, labelled, trial_name

ATOM = "http://www.w3.org/2005/Atom"
NAMESPACE = uuid.UUID("6f1d2e3c-7a5b-4c1d-9e8f-0a1b2c3d4e5f")  # trialwatch's: ids are uuid5 within it
REGISTRY_STUDY = "https://clinicaltrials.gov/study/{nct_id}"
EMPTY_FEED_UPDATED = "1970-01-01T00:00:00+00:00"  # a feed with no entry has nothing newer


@dataclass
class Selection:
    """Which changes a feed carries: of the watched trials (default), every trial, the trials a
    saved search brought, or these trials; of these severities (all when empty)."""

    severities: list[str] = field(default_factory=list)
    search: str | None = None
    nct_ids: list[str] = field(default_factory=list)
    every_trial: bool = False

    def key(self) -> str:
        trials = (
            "nct:" + ",".join(sorted(self.nct_ids))
            if self.nct_ids
            else f"search:{self.search}"
            if self.search is not None
            else "all"
            if self.every_trial
            else "watchlist"
        )
        return f"{trials}|{','.join(sorted(self.severities)) or 'any'}"

    def title(self) -> str:
        which = " and ".join(self.severities) + " changes" if self.severities else "Changes"
        if self.nct_ids:
            return f"{which} of {', '.join(self.nct_ids)}"
        if self.search is not None:
            return f"{which} of the trials saved search {self.search!r} watches"
        return f"{which} of {'every trial' if self.every_trial else 'the watched trials'}"

    def read(self, reading, limit: int | None) -> list[dict]:
        """The selected changes, newest first (`reading`: a store.reading.Reading)."""
        return reading.changes(
            nct_ids=self.nct_ids or None,
            watchlist=not (self.nct_ids or self.search is not None or self.every_trial),
            search=self.search,
            severities=self.severities or None,
            limit=limit,
        )


def entry_ids(changes: list[dict]) -> list[str]:
    """Each change's stable id (a URN): its identity, numbered among alike changes of one snapshot."""
    seen: dict[str, int] = {}
    ids = []
    for change in changes:
        key = "|".join(str(change.get(k) or "") for k in ("nct_id", "observed_at", "field", "item", "kind"))
        seen[key] = seen.get(key, -1) + 1
        ids.append(f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{key}|{seen[key]}')}")
    return ids


def _content(change: dict) -> str:
    parts = [f"<p><strong>{change['severity']}</strong> · {change['category']} · {_escape(change['summary'])}</p>"]
    parts += [f"<p>{labelled(detail, as_html(detail.segments))}</p>" for detail in details(change)]
    return "\n".join(parts)


def _escape(text: str) -> str:
    import html

    return html.escape(text or "")


def _add(parent, tag: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def atom(changes: list[dict], titles: dict, selection: Selection, *, link_for=None, self_url=None) -> bytes:
    """The changes (newest first) as an Atom feed; `link_for(nct_id)` is each trial's page
    (default its ClinicalTrials.gov page), `self_url` where the feed is read from."""
    link_for = link_for or (lambda nct_id: REGISTRY_STUDY.format(nct_id=nct_id))
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", f"urn:uuid:{uuid.uuid5(NAMESPACE, 'feed|' + selection.key())}")
    _add(feed, "title", f"trialwatch: {selection.title()}")
    _add(feed, "updated", max((c["observed_at"] for c in changes), default=EMPTY_FEED_UPDATED))
    _add(_add(feed, "author"), "name", "trialwatch")
    _add(feed, "generator", "trialwatch")
    if self_url:
        _add(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    for change, entry_id in zip(changes, entry_ids(changes), strict=True):
        entry = _add(feed, "entry")
        _add(entry, "id", entry_id)
        _add(entry, "title", f"{trial_name(change['nct_id'], titles)}: {change['summary']}")
        _add(entry, "updated", change["observed_at"])
        _add(entry, "published", change["observed_at"])
        _add(entry, "link", rel="alternate", href=link_for(change["nct_id"]), type="text/html")
        _add(entry, "category", term=change["severity"], label=f"{change['severity']} change")
        _add(entry, "category", term=change["category"])
        _add(entry, "content", _content(change), type="html")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def render_feed(reading, selection: Selection, *, limit: int | None = 100, link_for=None, self_url=None) -> bytes:
    changes = selection.read(reading, limit)
    titles = reading.titles({change["nct_id"] for change in changes})
    return atom(changes, titles, selection, link_for=link_for, self_url=self_url)
