"""The findings table: each trial's findings as last evaluated, and the timeline they came from.

`FindingsTable` is the part of the store that speaks its SQL; `Store.findings` is one.  The
rules are `trialwatch.snapshots.findings`, the refresh `trialwatch.snapshots.jobs.findings`.
A trial's findings are current when the digest of its snapshots (ids, observation times,
content hashes) is the one they were evaluated from, on the day asked for.
"""

from __future__ import annotations

import hashlib
import json

import orjson

from trialwatch.snapshots.changes.dates import now_utc
from trialwatch.snapshots.store.outcomes import FAILED

_STATE_INSERT = (
    "INSERT OR REPLACE INTO findings_state (nct_id, timeline, history_from, history_to, from_registration, as_of, "
    "evaluated_on, refreshed_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT = (
    "INSERT INTO findings (nct_id, finding, holds, [class], days, percent, complete, summary, value, evidence, "
    "snapshot_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _flag(value) -> int | None:
    return None if value is None else int(bool(value))


def _json(value) -> str:
    """Compact JSON, keys sorted; orjson (five times faster) with the standard library for what it refuses."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def row(finding: dict) -> list:
    """A finding (`Finding.as_dict()`) as the table's row (its `as_of` is the trial's: findings_state)."""
    evidence = finding.get("evidence") or []
    return [
        finding["nct_id"],
        finding["finding"],
        _flag(finding.get("holds")),
        finding.get("class"),
        finding.get("days"),
        finding.get("percent"),
        _flag(finding.get("complete")),
        finding.get("summary"),
        _json(finding.get("value") or {}),
        _json(evidence),
        evidence[0]["snapshot_id"] if evidence else None,
    ]


def from_row(values: dict) -> dict:
    """A table row (joined with its trial's findings_state) back as a finding dict."""
    as_of = {
        "history_from": values["history_from"],
        "history_to": values["history_to"],
        "from_registration": bool(values["from_registration"]),
        "text": values["as_of"],
        "evaluated_on": values["evaluated_on"],
    }
    return {
        "nct_id": values["nct_id"],
        "finding": values["finding"],
        "holds": None if values["holds"] is None else bool(values["holds"]),
        "class": values["class"],
        "days": values["days"],
        "percent": values["percent"],
        "complete": bool(values["complete"]) if values["complete"] is not None else True,
        "summary": values["summary"],
        "value": json.loads(values["value"] or "{}"),
        "evidence": json.loads(values["evidence"] or "[]"),
        "as_of": as_of,
    }


class FindingsTable:
    def __init__(self, db, timelines):
        self.db = db
        self.timelines = timelines  # records are read through it (they are stored compressed)

    def timeline(self, nct_id: str, until: str | None = None) -> list[tuple[int, str, str, int | None, dict]]:
        """(snapshot id, observed_utc, source kind, source version, record) of a trial, in time order."""
        sources = {
            sid: (kind, version)
            for sid, kind, version in self.db.conn.execute(
                "SELECT id, source_kind, source_version FROM snapshots WHERE nct_id = ?", [nct_id]
            )
        }
        return [
            (sid, observed, *sources[sid], record) for sid, observed, record in self.timelines.records(nct_id, until)
        ]

    def trial_checks(self, nct_id: str, until: str | None = None) -> tuple[str | None, str | None]:
        """(the last check of the trial, the newest registry last-update date its checks saw), up to
        `until`.  Up to now they are on the trial's row; up to an earlier instant the trial's
        checks are read (`check_log` has no index by trial: a scan, for this rarer question)."""
        if until is None:
            row_ = self.db.conn.execute(
                "SELECT last_checked_utc, last_updated FROM trials WHERE nct_id = ?", [nct_id]
            ).fetchone()
        else:
            row_ = self.db.conn.execute(
                "SELECT max(checked_utc), max(last_updated) FROM checks WHERE nct_id = ? AND outcome != ? "
                "AND checked_utc <= ?",
                [nct_id, FAILED, until],
            ).fetchone()
        return (row_[0], row_[1]) if row_ else (None, None)

    def digest(self, nct_id: str) -> str:
        """What the trial's findings depend on in its timeline: its snapshots' ids, times and contents."""
        text = "\n".join(
            f"{sid}|{observed}|{content}"
            for sid, observed, content in self.db.conn.execute(
                "SELECT id, observed_utc, content_hash FROM snapshots WHERE nct_id = ? ORDER BY observed_utc, id",
                [nct_id],
            )
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def evaluated(self, nct_id: str) -> tuple[str, str] | None:
        """(timeline digest, evaluated_on) of the trial's stored findings, or None."""
        found = self.db.conn.execute(
            "SELECT timeline, evaluated_on FROM findings_state WHERE nct_id = ?", [nct_id]
        ).fetchone()
        return (found[0], found[1]) if found else None

    def batch(self):
        """One transaction around several `replace`s (each still whole if the batch fails)."""
        return self.db.atomic()

    def replace(self, nct_id: str, findings: list[dict], digest: str, as_of: dict) -> None:
        """Store a trial's findings in place of those it had, with the timeline digest and the
        extent (`as_of`: history_from, history_to, from_registration, text, evaluated_on) they
        came from; one transaction."""
        state = [
            nct_id,
            digest,
            as_of["history_from"],
            as_of["history_to"],
            _flag(as_of["from_registration"]),
            as_of["text"],
            as_of["evaluated_on"],
            now_utc(),
        ]
        with self.db.atomic():
            self.db.conn.execute("DELETE FROM findings WHERE nct_id = ?", [nct_id])
            self.db.conn.executemany(_INSERT, [row(finding) for finding in findings])
            self.db.conn.execute(_STATE_INSERT, state)

    def stored(self, nct_id: str) -> list[dict]:
        """A trial's stored findings, in the order they were evaluated."""
        return [
            from_row(values)
            for values in self.db.query(
                "SELECT f.*, s.history_from, s.history_to, s.from_registration, s.as_of, s.evaluated_on "
                "FROM findings f JOIN findings_state s ON s.nct_id = f.nct_id WHERE f.nct_id = ? ORDER BY f.rowid",
                [nct_id],
            )
        ]

    def holding(self, nct_ids=None) -> dict[str, set[tuple[str, str | None]]]:
        """(finding, class) of the stored findings that hold, by trial, for every trial evaluated
        so far (of these ids, when given); a trial evaluated with nothing holding has an empty set."""
        wanted = None if nct_ids is None else set(nct_ids)
        out: dict[str, set[tuple[str, str | None]]] = {}
        for nct_id, name, cls in self.db.conn.execute(
            "SELECT s.nct_id, f.finding, f.class FROM findings_state s "
            "LEFT JOIN findings f ON f.nct_id = s.nct_id AND f.holds = 1"
        ):
            if wanted is None or nct_id in wanted:
                found = out.setdefault(nct_id, set())
                if name is not None:
                    found.add((name, cls))
        return out
