"""A trial's timeline as findings read it: its snapshots in time order, each with the trial as
known after it (each field's last known value, `trialwatch.snapshots.changes.known`).

Every version has a *date*: when its state began in the registry.  For a version backfilled
from the registry's history that is the version's own date; for the tool's own observation it
is the record's submission date (`last_update_submitted`, else its last-update post date),
never later than when it was observed: the registry had that state since then, though an
earlier version the tool never saw may have shown a change first.

The timeline *reaches registration* when its first snapshot is the registration version: the
registry history's version 0, or a record never updated since it was first posted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from trialwatch.ingest.parse import HISTORY
from trialwatch.ingest.record import DATE_FIELDS, upgrade
from trialwatch.snapshots.changes.known import covers, merge, same
from trialwatch.snapshots.findings.dating import day_only


@dataclass
class Version:
    """One snapshot of the trial: its own record (what its source carried) and the trial as known after it."""

    snapshot_id: int
    observed_utc: str
    source_kind: str
    source_version: int | None
    record: dict
    known: dict
    date: date

    def knows(self, path: str) -> bool:
        return not covers(self.known.get("unknown") or (), path)

    def get(self, key: str, default=None):
        """A top-level field as known after this version; `default` when unknown."""
        return self.known.get(key) if self.knows(key) else default

    @property
    def label(self) -> str:
        """`v5 2019-01-18` for a registry version, `snapshot 12 2025-01-10` otherwise."""
        if self.source_kind == HISTORY and self.source_version is not None:
            return f"v{self.source_version} {self.date}"
        return f"snapshot {self.snapshot_id} {self.date}"

    def evidence(self, role: str) -> dict:
        source = self.source_kind + (f" v{self.source_version}" if self.source_version is not None else "")
        return {"snapshot_id": self.snapshot_id, "date": self.date.isoformat(), "source": source, "role": role}


@dataclass
class Timeline:
    nct_id: str
    versions: list[Version]
    checked_until: str | None = None  # the last check of the trial (UTC), when later than its last snapshot
    newest_update: str | None = None  # the newest registry last-update date any check saw

    @property
    def first(self) -> Version:
        return self.versions[0]

    @property
    def last(self) -> Version:
        return self.versions[-1]

    @property
    def current(self) -> dict:
        """The trial as known now (after its last snapshot)."""
        return self.last.known

    @property
    def from_registration(self) -> bool:
        return is_registration(self.first)

    def series(self, key: str, read: Callable[[Any], Any] = lambda value: value) -> list[tuple[Version, Any]]:
        """(version, value) where the field's value first appears and each time it changes, over
        the versions that know it; `read` picks what is compared (absent values skipped)."""
        out: list[tuple[Version, Any]] = []
        previous: Any = None
        for version in self.versions:
            if not version.knows(key):
                continue
            raw = version.known.get(key)
            if out and raw == previous:  # as before: no need to read it again
                continue
            previous, value = raw, read(raw)
            if value is None:
                continue
            if not out or not same(out[-1][1], value):
                out.append((version, value))
        return out

    def carriers(self, key: str, read: Callable[[Any], Any] = lambda value: value) -> list[Version]:
        """The versions whose own source carried the field with a value: the observations of it."""
        return [
            v
            for v in self.versions
            if not covers(v.record.get("unknown") or (), key) and read(v.record.get(key)) is not None
        ]

    def observed_once(self, key: str, read: Callable[[Any], Any] = lambda value: value) -> bool:
        """Only one snapshot's source carried the field, and it is not the registration version
        starting the timeline: one observation, nothing to compare it with."""
        carriers = self.carriers(key, read)
        return len(carriers) < 2 and not (carriers and carriers[0] is self.first and is_registration(carriers[0]))

    def gap_at_start(self, key: str) -> bool:
        """The timeline's first version does not know the field: its history starts later, so
        "no change seen" says nothing of the versions before."""
        return not self.first.knows(key)

    def extent(self) -> dict:
        """The timeline's extent: from, to, whether it reaches registration, in words."""
        start, end = self.first.date.isoformat(), self.last.observed_utc[:10]
        if self.checked_until and self.checked_until[:10] > end:
            end = self.checked_until[:10]
        registered = self.from_registration
        text = f"history from registration ({start}) to {end}" if registered else f"no history before {start}; to {end}"
        return {"history_from": start, "history_to": end, "from_registration": registered, "text": text}


def is_registration(version: Version) -> bool:
    """The registration version: the registry history's version 0, or a record never updated
    (its last-update post date is its first-posted date)."""
    if version.source_kind == HISTORY and version.source_version == 0:
        return True
    record = version.record
    unknown = record.get("unknown") or ()
    if covers(unknown, "first_posted") or covers(unknown, "last_updated"):
        return False
    return bool(record.get("first_posted")) and record.get("first_posted") == record.get("last_updated")


def version_date(source_kind: str, observed_utc: str, record: dict) -> date:
    """When a version's state began in the registry (see the module's docstring)."""
    observed = date.fromisoformat(observed_utc[:10])
    if source_kind == HISTORY:
        return observed
    unknown = record.get("unknown") or ()
    for key in ("last_update_submitted", "last_updated"):
        value = None if covers(unknown, key) else day_only(record.get(key))
        if value is not None and value <= observed:
            return value
    return observed


def coarsened(known: dict) -> dict:
    """The trial as known, with each date whose precision its source did not show (a page shows
    month dates as days: `start_date.precision` unknown) read at month precision, so no rule
    takes a day a page made up for a month; a shallow copy when anything changes."""
    unknown = known.get("unknown") or ()
    changed = {}
    for key in DATE_FIELDS:
        value = known.get(key)
        if isinstance(value, dict) and isinstance(value.get("date"), str) and f"{key}.precision" in unknown:
            changed[key] = {**value, "date": value["date"][:7]}
    return {**known, **changed} if changed else known


def build(nct_id: str, rows, *, checked_until: str | None = None, newest_update: str | None = None) -> Timeline:
    """A timeline from `(snapshot_id, observed_utc, source_kind, source_version, record)` rows in time order."""
    versions: list[Version] = []
    known = None
    rows = list(rows)
    for snapshot_id, observed_utc, source_kind, source_version, record in rows:
        record = upgrade(record)
        # One snapshot: the trial as known is its record (read only here; merging would copy it).
        known = record if len(rows) == 1 else merge(known, record)
        when = version_date(source_kind, observed_utc, record)
        if versions and when < versions[-1].date:  # a record older than one before it: not earlier than that
            when = versions[-1].date
        view = coarsened(known)
        versions.append(Version(snapshot_id, observed_utc, source_kind, source_version, record, view, when))
    return Timeline(nct_id, versions, checked_until, newest_update)
