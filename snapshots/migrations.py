"""The database schema, in one place: one function per change, never edited once released.

A fresh database and an upgraded one go through the same functions, so they end in the
same schema.  Tables are created explicitly, with types, keys and foreign keys.
"""

from __future__ import annotations

from sqlite_utils import Migrations

migrations = Migrations("trialwatch")


@migrations()
def m001_initial(db):
    db["trials"].create(
        {
            "nct_id": str,
            "title": str,
            "status": str,
            "phases": str,
            "study_type": str,
            "enrollment_count": int,
            "enrollment_type": str,
            "start_date": str,
            "start_date_type": str,
            "primary_completion_date": str,
            "primary_completion_date_type": str,
            "completion_date": str,
            "completion_date_type": str,
            "last_updated": str,
            "has_results": int,
            "first_seen_utc": str,
            "last_checked_utc": str,
            "last_changed_utc": str,
            "snapshot_count": int,
            "latest_snapshot_id": int,
        },
        pk="nct_id",
        not_null={"nct_id"},
    )
    db["snapshots"].create(
        {
            "id": int,
            "nct_id": str,
            "observed_utc": str,
            "last_updated": str,
            "status": str,
            "source_kind": str,
            "source_ref": str,
            "source_version": int,
            "module_labels": str,
            "content_hash": str,
            "record": str,
            "raw": bytes,
            "raw_encoding": str,
            "change_count": int,
        },
        pk="id",
        foreign_keys=[("nct_id", "trials", "nct_id")],
        not_null={"nct_id", "observed_utc", "content_hash", "record", "source_kind"},
    )
    db["snapshots"].create_index(["nct_id", "observed_utc"])
    db["checks"].create(
        {
            "id": int,
            "nct_id": str,
            "checked_utc": str,
            "source_kind": str,
            "source_ref": str,
            "outcome": str,
            "snapshot_id": int,
            "error": str,
            "run_id": int,
        },
        pk="id",
        foreign_keys=[("snapshot_id", "snapshots", "id")],
        not_null={"checked_utc", "outcome"},
    )
    db["checks"].create_index(["nct_id", "checked_utc"])
    db["changes"].create(
        {
            "id": int,
            "snapshot_id": int,
            "nct_id": str,
            "observed_utc": str,
            "category": str,
            "severity": str,
            "field": str,
            "item": str,
            "kind": str,
            "old": str,
            "new": str,
            "summary": str,
            "shift_days": int,
            "old_type": str,
            "new_type": str,
            "became_actual": int,
            "precision_changed": int,
            "percent_change": float,
            "lines_added": str,
            "lines_removed": str,
        },
        pk="id",
        foreign_keys=[("snapshot_id", "snapshots", "id"), ("nct_id", "trials", "nct_id")],
        not_null={"snapshot_id", "nct_id", "observed_utc", "category", "severity", "field", "kind", "summary"},
    )
    db["changes"].create_index(["nct_id", "observed_utc"])
    db["changes"].create_index(["snapshot_id"])
    db["changes"].create_index(["observed_utc"])


@migrations()
def m002_watchlist_and_runs(db):
    db["searches"].create(
        {
            "id": int,
            "name": str,
            "query": str,
            "added_utc": str,
            "last_run_utc": str,
            "last_match_count": int,
        },
        pk="id",
        not_null={"name", "query", "added_utc"},
    )
    db["searches"].create_index(["name"], unique=True)
    db["watchlist"].create(
        {
            "nct_id": str,
            "added_utc": str,
            "note": str,
            "search_id": int,
            "backfill": int,
        },
        pk="nct_id",
        foreign_keys=[("search_id", "searches", "id")],
        not_null={"nct_id", "added_utc"},
    )
    db["runs"].create(
        {
            "id": int,
            "started_utc": str,
            "finished_utc": str,
            "data_timestamp": str,
            "forced": int,
            "requests": int,
            "trials_checked": int,
            "snapshots_written": int,
            "changes": int,
            "new_trials": int,
            "failures": int,
            "exit_status": int,
        },
        pk="id",
        not_null={"started_utc"},
    )
    db["checks"].create_index(["run_id"])


def migrate(db) -> None:
    """Bring the database to the current schema."""
    migrations.apply(db)
