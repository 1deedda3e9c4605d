"""The database schema, in one place: one function per change, never edited once released.

A fresh database and an upgraded one go through the same functions, so they end in the
same schema.  Tables are created explicitly, with types, keys and foreign keys.
"""

from __future__ import annotations

from sqlite_utils import Migrations

from trialwatch.ingest.parse import API
from trialwatch.snapshots.store.outcomes import FAILED

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


# -- m003: made for Datasette ------------------------------------------------------------
# Search text on trials, the views for the common questions and indexes for the canned
# queries of snapshots/metadata.yml.  Statements one by one with db.execute: sqlite-utils'
# enable_fts uses executescript, which would commit the migration's transaction half-way.

_M003_FTS_COLUMNS = ("title", "conditions", "keywords", "interventions", "sponsor")


def _newest_carrying(*unknown_paths: str) -> str:
    """SQL: the id of the trial's newest snapshot whose source carries the field (not unknown)."""
    paths = ", ".join(f"'{path}'" for path in unknown_paths)
    return (
        "(SELECT s.id FROM snapshots s WHERE s.nct_id = trials.nct_id AND NOT EXISTS ("
        f"SELECT 1 FROM json_each(s.record, '$.unknown') u WHERE u.value IN ({paths})) "
        "ORDER BY s.observed_utc DESC, s.id DESC LIMIT 1)"
    )


_M003_VIEWS = {
    "status_changes": """
        SELECT c.id AS change_id, c.observed_utc, c.nct_id, t.title,
               json_extract(c.old, '$') AS old_status, json_extract(c.new, '$') AS new_status,
               c.severity, c.summary, c.snapshot_id
        FROM changes c JOIN trials t ON t.nct_id = c.nct_id
        WHERE c.field = 'status'
        ORDER BY c.observed_utc DESC, c.id""",
    "date_changes": """
        SELECT c.id AS change_id, c.observed_utc, c.nct_id, t.title, c.field,
               CASE json_type(c.old) WHEN 'object' THEN json_extract(c.old, '$.date') ELSE json_extract(c.old, '$') END AS old_date,
               CASE json_type(c.new) WHEN 'object' THEN json_extract(c.new, '$.date') ELSE json_extract(c.new, '$') END AS new_date,
               c.shift_days,
               coalesce(c.old_type, json_extract(c.old, '$.type')) AS old_type,
               coalesce(c.new_type, json_extract(c.new, '$.type')) AS new_type,
               c.became_actual, c.precision_changed, c.severity, c.summary, c.snapshot_id
        FROM changes c JOIN trials t ON t.nct_id = c.nct_id
        WHERE c.category = 'dates'
        ORDER BY c.observed_utc DESC, c.id""",
    "enrollment_changes": """
        SELECT c.id AS change_id, c.observed_utc, c.nct_id, t.title,
               json_extract(c.old, '$.count') AS old_count, json_extract(c.new, '$.count') AS new_count,
               c.percent_change,
               coalesce(c.old_type, json_extract(c.old, '$.type')) AS old_type,
               coalesce(c.new_type, json_extract(c.new, '$.type')) AS new_type,
               c.severity, c.summary, c.snapshot_id
        FROM changes c JOIN trials t ON t.nct_id = c.nct_id
        WHERE c.field = 'enrollment'
        ORDER BY c.observed_utc DESC, c.id""",
    "recent_changes": """
        SELECT c.id AS change_id, c.observed_utc, c.nct_id, t.title, t.status AS current_status,
               c.category, c.severity, c.field, c.item, c.kind, c.summary, c.snapshot_id
        FROM changes c JOIN trials t ON t.nct_id = c.nct_id
        ORDER BY c.observed_utc DESC, c.snapshot_id DESC, c.id""",
    "trial_timeline": """
        SELECT s.nct_id, s.observed_utc, s.id AS snapshot_id, json_extract(s.record, '$.title') AS title, s.status,
               json_extract(s.record, '$.enrollment.count') AS enrollment_count,
               json_extract(s.record, '$.enrollment.type') AS enrollment_type,
               json_extract(s.record, '$.start_date.date') AS start_date,
               json_extract(s.record, '$.start_date.type') AS start_date_type,
               json_extract(s.record, '$.primary_completion_date.date') AS primary_completion_date,
               json_extract(s.record, '$.primary_completion_date.type') AS primary_completion_date_type,
               json_extract(s.record, '$.completion_date.date') AS completion_date,
               json_extract(s.record, '$.completion_date.type') AS completion_date_type,
               json_extract(s.record, '$.has_results') AS has_results,
               s.last_updated, s.source_kind, s.change_count,
               (SELECT group_concat(c.summary, '; ') FROM changes c WHERE c.snapshot_id = s.id) AS changes
        FROM snapshots s
        ORDER BY s.nct_id, s.observed_utc, s.id""",
}


@migrations()
def m003_datasette(db):
    # Search text on trials, kept current by Store._refresh_trial (store.TRIAL_COLUMNS).
    for column in ("conditions", "keywords", "interventions", "sponsor"):
        db.execute(f"ALTER TABLE trials ADD COLUMN {column} TEXT")

    def joined(path: str, value: str = "j.value") -> str:
        return (
            f"(SELECT group_concat({value}, '; ') FROM snapshots s, json_each(s.record, '$.{path}') j "
            f"WHERE s.id = {_newest_carrying(path)})"
        )

    names = joined("interventions", value="json_extract(j.value, '$.name')")
    db.execute(
        f"UPDATE trials SET conditions = {joined('conditions')}, keywords = {joined('keywords')}, "
        f"interventions = {names}, "
        "sponsor = (SELECT json_extract(s.record, '$.lead_sponsor.name') FROM snapshots s "
        f"WHERE s.id = {_newest_carrying('lead_sponsor', 'lead_sponsor.name')})"
    )

    # Full-text search: an FTS5 index over the trials table's own text (content=[trials]), in
    # the layout sqlite-utils and Datasette recognise, kept current by triggers.
    columns = ", ".join(f"[{c}]" for c in _M003_FTS_COLUMNS)
    new_values = ", ".join(f"new.[{c}]" for c in _M003_FTS_COLUMNS)
    old_values = ", ".join(f"old.[{c}]" for c in _M003_FTS_COLUMNS)
    db.execute(
        f"CREATE VIRTUAL TABLE [trials_fts] USING FTS5 ({columns}, content=[trials], "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO [trials_fts]([trials_fts]) VALUES('rebuild')")
    db.execute(
        f"CREATE TRIGGER [trials_ai] AFTER INSERT ON [trials] BEGIN "
        f"INSERT INTO [trials_fts] (rowid, {columns}) VALUES (new.rowid, {new_values}); END"
    )
    db.execute(
        f"CREATE TRIGGER [trials_ad] AFTER DELETE ON [trials] BEGIN "
        f"INSERT INTO [trials_fts] ([trials_fts], rowid, {columns}) VALUES ('delete', old.rowid, {old_values}); END"
    )
    db.execute(
        f"CREATE TRIGGER [trials_au] AFTER UPDATE OF {columns} ON [trials] BEGIN "
        f"INSERT INTO [trials_fts] ([trials_fts], rowid, {columns}) VALUES ('delete', old.rowid, {old_values}); "
        f"INSERT INTO [trials_fts] (rowid, {columns}) VALUES (new.rowid, {new_values}); END"
    )

    for name, sql in _M003_VIEWS.items():
        db.execute(f"CREATE VIEW [{name}] AS {sql.strip()}")

    # Indexes for the views and the canned queries.
    db["changes"].create_index(["field", "nct_id", "observed_utc"])
    db["changes"].create_index(["category", "observed_utc"])
    db["trials"].create_index(["status", "primary_completion_date"])


@migrations()
def m004_search_backfill(db):
    db.execute("ALTER TABLE searches ADD COLUMN backfill INTEGER")


@migrations()
def m005_check_versions_and_warnings(db):
    # The registry version a check read (history versions), so no one parses it out of a URL;
    # parser warnings on the check, and their count on the run, so layout drift shows.
    db.execute("ALTER TABLE checks ADD COLUMN source_version INTEGER")
    db.execute("ALTER TABLE checks ADD COLUMN warnings TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN warnings INTEGER")
    db.execute(
        "UPDATE checks SET source_version = CAST(substr(source_ref, instr(source_ref, '/history/') + 9) AS INTEGER) "
        "WHERE source_kind = 'ctgov history' AND instr(source_ref, '/history/') > 0"
    )
    db["checks"].create_index(["nct_id", "source_kind", "source_version"])


@migrations()
def m006_known_state(db):
    # The trial as known (each field's last known value), when it is not simply the newest
    # snapshot's record; and the registry's last-update date each check saw, kept when an
    # observation that only bumped it writes no snapshot.
    db.execute("ALTER TABLE trials ADD COLUMN known TEXT")
    db.execute("ALTER TABLE checks ADD COLUMN last_updated TEXT")


@migrations()
def m007_registry_history(db):
    # The registry's history index of each trial (one request): first-registered outcomes and
    # enrollment, where they last changed, and each version's registry date, status and labels.
    db["trial_history"].create(
        {
            "nct_id": str,
            "checked_utc": str,
            "source_ref": str,
            "version_count": int,
            "latest_version": int,
            "first_version_date": str,
            "latest_version_date": str,
            "outcomes_update_count": int,
            "outcomes_last_version": int,
            "primary_outcomes_last_version": int,
            "secondary_outcomes_last_version": int,
            "other_outcomes_last_version": int,
            "enrollment_last_version": int,
            "original_primary_outcomes": str,
            "primary_outcomes_same": int,
            "original_secondary_outcomes": str,
            "secondary_outcomes_same": int,
            "original_other_outcomes": str,
            "other_outcomes_same": int,
            "original_enrollment_count": int,
            "original_enrollment_type": str,
            "enrollment_count_same": int,
            "original_data": str,
            "last_update_versions": str,
        },
        pk="nct_id",
        not_null={"nct_id", "checked_utc"},
    )
    db["history_versions"].create(
        {
            "nct_id": str,
            "version": int,
            "date": str,
            "status": str,
            "module_labels": str,
            "review_not_passed": int,
            "unposted_events": str,
            "other": str,
        },
        pk=("nct_id", "version"),
        not_null={"nct_id", "version", "date"},
    )


@migrations()
def m007b_run_backfilled_versions(db):
    # A run that backfilled says so: the versions it fetched from the registry's history.
    db.execute("ALTER TABLE runs ADD COLUMN versions_backfilled INTEGER")


# -- m009: findings ----------------------------------------------------------------------
# Each trial's findings (trialwatch.snapshots.findings) as last evaluated, the timeline digest
# they came from, and the views Datasette shows them in.

_M009_VIEWS = {
    "findings_holding": """
        SELECT f.nct_id, t.title, t.sponsor, t.status, f.finding, f.class, f.days, f.percent, f.complete,
               f.summary, s.as_of, s.evaluated_on, f.snapshot_id
        FROM findings f JOIN trials t ON t.nct_id = f.nct_id JOIN findings_state s ON s.nct_id = f.nct_id
        WHERE f.holds = 1
        ORDER BY f.finding, f.nct_id""",
    "outcome_switches": """
        SELECT f.nct_id, t.title, t.sponsor, t.status, f.class,
               json_extract(f.value, '$.timing') AS timing,
               json_extract(f.value, '$.hidden') AS hidden,
               json_extract(f.value, '$.current_against_reference') AS current_against_reference,
               f.days AS days_after_start,
               json_extract(f.value, '$.reference.version') AS reference,
               f.summary, f.complete, s.as_of, f.snapshot_id
        FROM findings f JOIN trials t ON t.nct_id = f.nct_id JOIN findings_state s ON s.nct_id = f.nct_id
        WHERE f.finding = 'primary_outcome_changed' AND f.holds = 1
        ORDER BY f.class, f.days DESC, f.nct_id""",
    "overdue_results_by_sponsor": """
        SELECT t.sponsor,
               count(*) AS applicable_trials,
               sum(json_extract(f.value, '$.due_date') < s.evaluated_on) AS due,
               sum(f.class = 'overdue') AS overdue,
               sum(f.class = 'due_in_grace') AS due_in_grace,
               sum(f.class = 'reported_late') AS reported_late,
               sum(f.class = 'reported_on_time') AS reported_on_time,
               round(100.0 * sum(f.class = 'overdue') / nullif(sum(json_extract(f.value, '$.due_date') < s.evaluated_on), 0), 1)
                 AS percent_of_due_overdue,
               min(s.evaluated_on) AS evaluated_on
        FROM findings f JOIN trials t ON t.nct_id = f.nct_id JOIN findings_state s ON s.nct_id = f.nct_id
        WHERE f.finding = 'results_due' AND json_extract(f.value, '$.applicable') = 1
        GROUP BY t.sponsor
        ORDER BY overdue DESC, due DESC, t.sponsor""",
    "slippage_distribution": """
        SELECT CASE
                 WHEN f.days < 0 THEN '1 earlier'
                 WHEN f.days = 0 THEN '2 unchanged'
                 WHEN f.days <= 90 THEN '3 up to 90 days later'
                 WHEN f.days <= 180 THEN '4 91 to 180 days'
                 WHEN f.days <= 365 THEN '5 181 to 365 days'
                 WHEN f.days <= 730 THEN '6 1 to 2 years'
                 ELSE '7 over 2 years'
               END AS slippage,
               count(*) AS trials,
               sum(f.complete) AS from_first_registered,
               sum(json_extract(f.value, '$.postponements')) AS postponements,
               min(f.days) AS min_days, max(f.days) AS max_days
        FROM findings f
        WHERE f.finding = 'primary_completion_slippage' AND f.days IS NOT NULL
        GROUP BY 1
        ORDER BY 1""",
    "retroactively_prospective_trials": """
        SELECT f.nct_id, t.title, t.sponsor, t.status,
               json_extract(f.value, '$.registered') AS registered,
               json_extract(f.value, '$.first_start_date.date') AS first_start_date,
               json_extract(f.value, '$.moved_start_date.date') AS moved_start_date,
               json_extract(f.value, '$.moved_in') AS moved_in,
               f.class, f.summary, f.complete, s.as_of, f.snapshot_id
        FROM findings f JOIN trials t ON t.nct_id = f.nct_id JOIN findings_state s ON s.nct_id = f.nct_id
        WHERE f.finding = 'retroactively_prospective' AND f.holds = 1
        ORDER BY registered, f.nct_id""",
}


@migrations()
def m009_findings(db):
    db["findings"].create(
        {
            "nct_id": str,
            "finding": str,
            "holds": int,
            "class": str,
            "days": int,
            "percent": float,
            "complete": int,
            "summary": str,
            "value": str,
            "evidence": str,
            "snapshot_id": int,
        },
        pk=("nct_id", "finding"),
        foreign_keys=[("nct_id", "trials", "nct_id"), ("snapshot_id", "snapshots", "id")],
        not_null={"nct_id", "finding"},
    )
    db["findings"].create_index(["finding", "holds"])
    db["findings_state"].create(
        {
            "nct_id": str,
            "timeline": str,
            "history_from": str,
            "history_to": str,
            "from_registration": int,
            "as_of": str,
            "evaluated_on": str,
            "refreshed_utc": str,
        },
        pk="nct_id",
        foreign_keys=[("nct_id", "trials", "nct_id")],
        not_null={"nct_id"},
    )
    for name, sql in _M009_VIEWS.items():
        db.execute(f"CREATE VIEW [{name}] AS {sql.strip()}")


# -- m010: compact storage ----------------------------------------------------------------
# Records and raw inputs as zstd frames (trialwatch.snapshots.store.codec): key frames with a
# shipped dictionary, deltas against a key frame of the same trial.  Read in SQL with
# trialwatch_record(id), which the store and the Datasette plugin register.

_M010_TRIAL_TIMELINE = """SELECT s.nct_id, s.observed_utc, s.id AS snapshot_id, json_extract(trialwatch_record(s.id), '$.title') AS title,
               s.status,
               json_extract(trialwatch_record(s.id), '$.enrollment.count') AS enrollment_count,
               json_extract(trialwatch_record(s.id), '$.enrollment.type') AS enrollment_type,
               json_extract(trialwatch_record(s.id), '$.start_date.date') AS start_date,
               json_extract(trialwatch_record(s.id), '$.start_date.type') AS start_date_type,
               json_extract(trialwatch_record(s.id), '$.primary_completion_date.date') AS primary_completion_date,
               json_extract(trialwatch_record(s.id), '$.primary_completion_date.type') AS primary_completion_date_type,
               json_extract(trialwatch_record(s.id), '$.completion_date.date') AS completion_date,
               json_extract(trialwatch_record(s.id), '$.completion_date.type') AS completion_date_type,
               json_extract(trialwatch_record(s.id), '$.has_results') AS has_results,
               s.last_updated, s.source_kind, s.change_count,
               (SELECT group_concat(c.summary, '; ') FROM changes c WHERE c.snapshot_id = s.id) AS changes
        FROM snapshots s
        ORDER BY s.nct_id, s.observed_utc, s.id"""


@migrations()
def m010_compact_snapshots(db):
    db.execute("ALTER TABLE snapshots ADD COLUMN codec INTEGER")
    db.execute("ALTER TABLE snapshots ADD COLUMN base_id INTEGER REFERENCES snapshots(id)")
    db.execute("DROP VIEW trial_timeline")
    db.execute(f"CREATE VIEW [trial_timeline] AS {_M010_TRIAL_TIMELINE}")
    _m010_compress_rows(db)


def _m010_compress_rows(db) -> None:
    """Every row written before: its record and raw input as one frame, each trial's oldest a key
    frame and the others deltas where they pay (codec.encode), in this migration's transaction."""
    from trialwatch.snapshots.store import codec

    execute = db.conn.execute
    rows = execute("SELECT id, nct_id FROM snapshots WHERE codec IS NULL ORDER BY nct_id, observed_utc, id").fetchall()
    trial, key_id, key = None, None, None
    updates: list = []
    for snapshot_id, nct_id in rows:
        if nct_id != trial:
            trial, key_id, key = nct_id, None, None
        data = codec.row_content(execute, snapshot_id)
        assert data is not None
        frame, is_delta = codec.encode(data, key)
        if not is_delta:
            key_id, key = snapshot_id, data
        updates.append((frame, codec.CURRENT, key_id if is_delta else None, snapshot_id))
        if len(updates) >= 1000:
            _m010_write(db, updates)
    _m010_write(db, updates)


def _m010_write(db, updates: list) -> None:
    db.conn.executemany(
        "UPDATE snapshots SET record = ?, codec = ?, base_id = ?, raw = NULL, raw_encoding = NULL WHERE id = ?",
        updates,
    )
    updates.clear()


_M010_CHECKS_VIEW = """SELECT c.id,
               CASE WHEN c.trial IS NOT NULL THEN printf('NCT%08d', c.trial) ELSE n.nct_id END AS nct_id,
               coalesce(n.checked_utc, strftime('%Y-%m-%dT%H:%M:%S+00:00', c.checked, 'unixepoch')) AS checked_utc,
               s.source_kind,
               CASE WHEN c.trial IS NOT NULL THEN replace(s.source_ref, '{nct_id}', printf('NCT%08d', c.trial))
                    ELSE s.source_ref END AS source_ref,
               CASE c.outcome WHEN 0 THEN 'new' WHEN 1 THEN 'changed' WHEN 2 THEN 'unchanged' ELSE 'failed' END
                   AS outcome,
               c.snapshot_id, n.error, s.run_id, c.version AS source_version, n.warnings,
               coalesce(n.last_updated, date(c.last_updated * 86400, 'unixepoch')) AS last_updated
        FROM check_log c JOIN check_sources s ON s.id = c.source LEFT JOIN check_notes n ON n.check_id = c.id"""


@migrations()
def m010_compact_checks(db):
    # Checks as rows of integers (trialwatch.snapshots.store.checklog), read back through the view
    # `checks` with the columns the table had.  Indexes only where few rows are: failed checks
    # (runs.watched_checks) and checks of registry versions (Store.versions_had).
    db.execute(
        "CREATE TABLE check_sources (id INTEGER PRIMARY KEY, source_kind TEXT NOT NULL, source_ref TEXT, "
        "run_id INTEGER)"
    )
    db.execute("CREATE INDEX check_sources_kind ON check_sources (source_kind, source_ref, run_id)")
    db.execute(
        "CREATE TABLE check_log (id INTEGER PRIMARY KEY, trial INTEGER, checked INTEGER NOT NULL, "
        "outcome INTEGER NOT NULL, snapshot_id INTEGER REFERENCES snapshots(id), "
        "source INTEGER NOT NULL REFERENCES check_sources(id), version INTEGER, last_updated INTEGER)"
    )
    db.execute("CREATE INDEX check_log_failed ON check_log (trial, id) WHERE outcome = 3")
    db.execute("CREATE INDEX check_log_versions ON check_log (trial, version) WHERE version IS NOT NULL")
    db.execute(
        "CREATE TABLE check_notes (check_id INTEGER PRIMARY KEY REFERENCES check_log(id), nct_id TEXT, "
        "checked_utc TEXT, error TEXT, warnings TEXT, last_updated TEXT)"
    )
    _m010_move_checks(db)
    db.execute("DROP TABLE checks")
    db.execute(f"CREATE VIEW [checks] AS {_M010_CHECKS_VIEW}")


def _m010_move_checks(db) -> None:
    """Every check of the old table into the compact ones, with its id."""
    from trialwatch.snapshots.store.checklog import CheckLog

    log = CheckLog(db)
    rows = db.conn.execute(
        "SELECT id, nct_id, checked_utc, source_kind, source_ref, source_version, outcome, snapshot_id, error, "
        "warnings, run_id, last_updated FROM checks ORDER BY id"
    )
    for check_id, nct_id, checked, kind, ref, version, outcome, snapshot_id, error, warnings, run_id, day in rows:
        log.add(
            nct_id, checked, kind, ref, version, outcome, snapshot_id, error, warnings, run_id, day, check_id=check_id
        )


@migrations()
def m010_search_by_batch(db):
    # Bulk work indexes the trials it adds once per committed batch (Store.bulk) instead of
    # row by row: while search_state.pending_from is set (only inside a batch's transaction,
    # never committed so), rows from that rowid on are left to the batch.
    columns = ", ".join(f"[{c}]" for c in _M003_FTS_COLUMNS)
    new_values = ", ".join(f"new.[{c}]" for c in _M003_FTS_COLUMNS)
    old_values = ", ".join(f"old.[{c}]" for c in _M003_FTS_COLUMNS)
    db.execute("CREATE TABLE search_state (id INTEGER PRIMARY KEY CHECK (id = 1), pending_from INTEGER)")
    db.execute("INSERT INTO search_state (id, pending_from) VALUES (1, NULL)")
    indexed = "(SELECT pending_from FROM search_state) IS NULL OR {}.rowid < (SELECT pending_from FROM search_state)"
    new_indexed, old_indexed = indexed.format("new"), indexed.format("old")
    for name in ("trials_ai", "trials_ad", "trials_au"):
        db.execute(f"DROP TRIGGER [{name}]")
    db.execute(
        f"CREATE TRIGGER [trials_ai] AFTER INSERT ON [trials] WHEN {new_indexed} BEGIN "
        f"INSERT INTO [trials_fts] (rowid, {columns}) VALUES (new.rowid, {new_values}); END"
    )
    db.execute(
        f"CREATE TRIGGER [trials_ad] AFTER DELETE ON [trials] WHEN {old_indexed} BEGIN "
        f"INSERT INTO [trials_fts] ([trials_fts], rowid, {columns}) VALUES ('delete', old.rowid, {old_values}); END"
    )
    db.execute(
        f"CREATE TRIGGER [trials_au] AFTER UPDATE OF {columns} ON [trials] WHEN {old_indexed} BEGIN "
        f"INSERT INTO [trials_fts] ([trials_fts], rowid, {columns}) VALUES ('delete', old.rowid, {old_values}); "
        f"INSERT INTO [trials_fts] (rowid, {columns}) VALUES (new.rowid, {new_values}); END"
    )


@migrations()
def m011_registry_check(db):
    # The last check of each trial's current record in the registry (source kind `ctgov api`,
    # not failed), kept on the trial's row: check_log has no index by trial.
    db.execute("ALTER TABLE trials ADD COLUMN registry_check_id INTEGER REFERENCES check_log(id)")
    db.execute(
        "UPDATE trials SET registry_check_id = c.last FROM "
        "(SELECT nct_id, max(id) AS last FROM checks WHERE source_kind = ? "
        "AND outcome != ? AND nct_id IS NOT NULL GROUP BY nct_id) AS c WHERE c.nct_id = trials.nct_id",
        [API, FAILED],
    )


@migrations()
def m012_run_integrity(db):
    # A run checks the file (PRAGMA quick_check) before it writes: 'ok' on the run's row when it did.
    db.execute("ALTER TABLE runs ADD COLUMN integrity TEXT")


def schema_state(db) -> tuple[list[str], list[str]]:
    """(migrations this trialwatch has that the database lacks, migrations the database has that
    this trialwatch does not know: it was written by a newer one).  Reads only."""
    pending = [migration.name for migration in migrations.pending(db)]
    ours = {migration.name for migration in migrations._migrations}
    return pending, [migration.name for migration in migrations.applied(db) if migration.name not in ours]


def migrate(db) -> None:
    """Bring the database to the current schema: every pending migration in one write transaction
    (each in a savepoint of its own), so a second process opening the same new database waits for
    the first and then finds nothing pending."""
    if not migrations.pending(db):
        return
    with db.atomic():
        migrations.apply(db)
