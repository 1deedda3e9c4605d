"""The registry's history index of each trial, as tables: `trial_history` (one row per trial:
first-registered outcomes and enrollment, where outcomes and enrollment last changed) and
`history_versions` (one row per version: its registry date, status and module labels).

`RegistryHistory` is the store's part that speaks their SQL; `Store.registry_history` is one.
What fills it is `trialwatch.ingest.history.HistoryIndex`, read by the backfill job
(`trialwatch.snapshots.jobs.backfill`) with one request per trial, before any version is
fetched.  Each read replaces what the trial had: the tables hold the registry's latest answer.
"""

from __future__ import annotations

import json

from trialwatch.snapshots.changes.dates import now_utc

# trial_history column → the index's value (`first_registered` keys, `last_update_versions` keys)
_OUTCOMES = ("primary", "secondary", "other")
_LAST_CHANGED = {
    "outcomes_last_version": "outcomes",
    "primary_outcomes_last_version": "primaryOutcomes",
    "secondary_outcomes_last_version": "secondaryOutcomes",
    "other_outcomes_last_version": "otherOutcomes",
    "enrollment_last_version": "enrollmentInfo",
}
TRIAL_HISTORY_COLUMNS = (
    "nct_id",
    "checked_utc",
    "source_ref",
    "version_count",
    "latest_version",
    "first_version_date",
    "latest_version_date",
    "outcomes_update_count",
    *_LAST_CHANGED,
    *(column for name in _OUTCOMES for column in (f"original_{name}_outcomes", f"{name}_outcomes_same")),
    "original_enrollment_count",
    "original_enrollment_type",
    "enrollment_count_same",
    "original_data",
    "last_update_versions",
)
_HISTORY_UPSERT = (
    f"INSERT OR REPLACE INTO trial_history ({', '.join(TRIAL_HISTORY_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in TRIAL_HISTORY_COLUMNS)})"
)
_VERSION_INSERT = (
    "INSERT INTO history_versions (nct_id, version, date, status, module_labels, review_not_passed, "
    "unposted_events, other) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_JSON_COLUMNS = (
    "original_primary_outcomes",
    "original_secondary_outcomes",
    "original_other_outcomes",
    "original_data",
    "last_update_versions",
)
_BOOL_COLUMNS = ("primary_outcomes_same", "secondary_outcomes_same", "other_outcomes_same", "enrollment_count_same")


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _row(index, source_ref: str | None, checked_utc: str) -> dict:
    """The trial_history row of a HistoryIndex."""
    first = index.first_registered
    versions = index.versions
    enrollment = first.get("enrollment") or {}
    row = {
        "nct_id": index.nct_id,
        "checked_utc": checked_utc,
        "source_ref": source_ref,
        "version_count": len(versions),
        "latest_version": versions[-1]["version"] if versions else None,
        "first_version_date": versions[0]["date"] if versions else None,
        "latest_version_date": versions[-1]["date"] if versions else None,
        "outcomes_update_count": index.outcomes_update_count,
        **{column: index.last_update_versions.get(key) for column, key in _LAST_CHANGED.items()},
        "original_enrollment_count": enrollment.get("count"),
        "original_enrollment_type": enrollment.get("type"),
        "enrollment_count_same": _flag(first.get("enrollment_count_same")),
        "original_data": _json(index.original_data),
        "last_update_versions": _json(index.last_update_versions or None),
    }
    for name in _OUTCOMES:
        row[f"original_{name}_outcomes"] = _json(first.get(f"{name}_outcomes"))
        row[f"{name}_outcomes_same"] = _flag(first.get(f"{name}_outcomes_same"))
    return row


class RegistryHistory:
    def __init__(self, db):
        self.db = db

    def save(self, index, *, source_ref: str | None = None, checked_utc: str | None = None) -> None:
        """Keep a trial's history index (a `HistoryIndex`), replacing what it had; one transaction."""
        row = _row(index, source_ref, checked_utc or now_utc())
        with self.db.atomic():
            self.db.execute(_HISTORY_UPSERT, [row[column] for column in TRIAL_HISTORY_COLUMNS])
            self.db.execute("DELETE FROM history_versions WHERE nct_id = ?", [index.nct_id])
            for entry in index.versions:
                self.db.execute(
                    _VERSION_INSERT,
                    [
                        index.nct_id,
                        entry["version"],
                        entry["date"],
                        entry.get("status"),
                        _json(entry.get("moduleLabels") or []),
                        _flag(entry.get("reviewNotPassed")),
                        _json(entry.get("unpostedEvents")),
                        _json(entry.get("other") or None),
                    ],
                )

    def trial(self, nct_id: str) -> dict | None:
        """The trial's trial_history row, JSON columns read back and flags as booleans; None if
        its index was never read."""
        rows = list(self.db.query("SELECT * FROM trial_history WHERE nct_id = ?", [nct_id]))
        if not rows:
            return None
        row = rows[0]
        for column in _JSON_COLUMNS:
            row[column] = json.loads(row[column]) if row[column] is not None else None
        for column in _BOOL_COLUMNS:
            row[column] = bool(row[column]) if row[column] is not None else None
        return row

    def versions(self, nct_id: str) -> list[dict]:
        """The trial's listed versions, oldest first: version, date, status, module_labels (a list)…"""
        rows = []
        for row in self.db.query("SELECT * FROM history_versions WHERE nct_id = ? ORDER BY version", [nct_id]):
            row["module_labels"] = json.loads(row["module_labels"]) if row["module_labels"] else []
            for column in ("unposted_events", "other"):
                row[column] = json.loads(row[column]) if row[column] is not None else None
            row["review_not_passed"] = bool(row["review_not_passed"]) if row["review_not_passed"] is not None else None
            rows.append(row)
        return rows
