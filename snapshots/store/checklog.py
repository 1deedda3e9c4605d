"""The checks, stored compactly: every read of a trial is a row of integers.

A registry of 600,000 trials checked daily makes checks the table that grows without end, and
most say only "unchanged".  So a check is a row of `check_log` holding integers only: the
trial's NCT number, the instant in Unix seconds, the outcome's code, the snapshot, the registry
date in days, and its *source*, a row of `check_sources` shared by every check of one source
and run (the kind, the reference with the trial's id as `{nct_id}`, the run).  What few checks
have (an error, parser warnings, a value that does not fit those forms) is a row of
`check_notes`.  The view `checks` joins them back into the columns the table had, so SQL,
Datasette and the tests read checks as before.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from trialwatch.snapshots.store.outcomes import CHANGED, FAILED, NEW, UNCHANGED

OUTCOME_CODES = {NEW: 0, CHANGED: 1, UNCHANGED: 2, FAILED: 3}
PLACEHOLDER = "{nct_id}"
_NCT = re.compile(r"NCT\d{8}")
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")
_EPOCH_DAY = date(1970, 1, 1).toordinal()

_LOG_INSERT = (
    "INSERT INTO check_log (id, trial, checked, outcome, snapshot_id, source, version, last_updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_NOTE_INSERT = (
    "INSERT INTO check_notes (check_id, nct_id, checked_utc, error, warnings, last_updated) VALUES (?, ?, ?, ?, ?, ?)"
)


def trial_number(nct_id: str | None) -> int | None:
    """NCT06731192 → 6731192; None for anything else."""
    return int(nct_id[3:]) if nct_id and _NCT.fullmatch(nct_id) else None


def _seconds(instant: str) -> tuple[int, bool]:
    """ISO instant → (Unix seconds, whether the view writes it back exactly)."""
    exact = bool(_INSTANT.fullmatch(instant))
    try:
        return int(datetime.fromisoformat(instant).timestamp()), exact
    except ValueError:
        return 0, False


def _days(day: str | None) -> int | None:
    if day and _DAY.fullmatch(day):
        try:
            return date.fromisoformat(day).toordinal() - _EPOCH_DAY
        except ValueError:
            return None
    return None


class CheckLog:
    def __init__(self, db):
        self.db = db
        self.sources: dict[tuple, int] = {}  # (kind, reference, run) → check_sources.id; emptied on rollback

    def add(
        self,
        nct_id: str | None,
        checked_utc: str,
        source_kind: str,
        source_ref: str | None,
        source_version: int | None,
        outcome: str,
        snapshot_id: int | None,
        error: str | None,
        warnings: str | None,
        run_id: int | None,
        last_updated: str | None,
        check_id: int | None = None,
    ) -> int:
        """Store one check; returns its id."""
        trial = trial_number(nct_id)
        if trial is not None and source_ref and PLACEHOLDER not in source_ref:
            source_ref = source_ref.replace(nct_id, PLACEHOLDER)  # type: ignore[arg-type]
        seconds, exact = _seconds(checked_utc)
        days = _days(last_updated)
        execute = self.db.conn.execute
        check_id = execute(
            _LOG_INSERT,
            (
                check_id,
                trial,
                seconds,
                OUTCOME_CODES[outcome],
                snapshot_id,
                self._source(source_kind, source_ref, run_id),
                source_version,
                days,
            ),
        ).lastrowid
        note = (
            None if trial is not None or nct_id is None else nct_id,
            None if exact else checked_utc,
            error,
            warnings,
            last_updated if days is None else None,
        )
        if any(value is not None for value in note):
            execute(_NOTE_INSERT, (check_id, *note))
        assert check_id is not None  # an INSERT into a rowid table
        return check_id

    def _source(self, kind: str, ref: str | None, run_id: int | None) -> int:
        key = (kind, ref, run_id)
        if key not in self.sources:
            execute = self.db.conn.execute
            row = execute(
                "SELECT id FROM check_sources WHERE source_kind = ? AND source_ref IS ? AND run_id IS ?", key
            ).fetchone()
            if row is None:
                row = (
                    execute(
                        "INSERT INTO check_sources (source_kind, source_ref, run_id) VALUES (?, ?, ?)", key
                    ).lastrowid,
                )
            self.sources[key] = row[0]
        return self.sources[key]

    def versions(self, nct_id: str, source_kind: str) -> set[int]:
        """Registry versions of a trial read from `source_kind` by checks that did not fail."""
        return {
            row[0]
            for row in self.db.conn.execute(
                "SELECT c.version FROM check_log c JOIN check_sources s ON s.id = c.source "
                "WHERE c.trial = ? AND c.version IS NOT NULL AND s.source_kind = ? AND c.outcome != ?",
                [trial_number(nct_id), source_kind, OUTCOME_CODES[FAILED]],
            )
        }
