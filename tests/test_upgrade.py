"""Upgrades: an old database migrates with nothing lost; reparse leaves no false changes."""

import json
import sqlite3
from pathlib import Path

import sqlite_utils

from clirun import tw
from trialwatch.ingest.parse import parse_file
from trialwatch.ingest.record import canonical_json, content_hash
from trialwatch.snapshots.store.codec import register
from trialwatch.snapshots.store.migrations import migrations
from trialwatch.snapshots.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "NCT06731192.txt"
EDITED = ROOT / "tests" / "fixtures" / "edits" / "NCT06731192.edited.txt"
FIRST_SCHEMA_STOP = "m002_watchlist_and_runs"


def schema(path):
    with sqlite3.connect(path) as conn:
        return sorted(
            conn.execute("select type, name, sql from sqlite_master where name not like 'sqlite_%'").fetchall(),
            key=lambda row: (row[0], row[1]),
        )


def test_a_database_of_the_first_schema_migrates_with_nothing_lost(tmp_path):
    old = tmp_path / "old.db"
    db = sqlite_utils.Database(old)
    migrations.apply(db, stop_before=FIRST_SCHEMA_STOP)  # the schema as first released: migration 1 only
    assert "watchlist" not in db.table_names()
    record = parse_file(SEED)[0].record
    db.execute(
        "INSERT INTO trials (nct_id, title, status, first_seen_utc, last_checked_utc, snapshot_count, "
        "latest_snapshot_id) VALUES (?, ?, ?, ?, ?, 1, 1)",
        ["NCT06731192", record["title"], record["status"], "2025-01-02T00:00:00+00:00", "2025-01-02T00:00:00+00:00"],
    )
    db.execute(
        "INSERT INTO snapshots (id, nct_id, observed_utc, last_updated, status, source_kind, source_ref, "
        "content_hash, record, change_count) VALUES (1, ?, ?, ?, ?, 'page text', 'seed', ?, ?, 0)",
        [
            "NCT06731192",
            "2025-01-02T00:00:00+00:00",
            record["last_updated"],
            record["status"],
            content_hash(record),
            canonical_json(record),
        ],
    )
    db.execute(
        "INSERT INTO checks (nct_id, checked_utc, source_kind, outcome, snapshot_id) VALUES (?, ?, 'page text', 'new', 1)",
        ["NCT06731192", "2025-01-02T00:00:00+00:00"],
    )
    db.conn.commit()
    db.conn.close()

    Store(old).close()  # opening migrates
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    assert schema(old) == schema(fresh)
    with sqlite3.connect(old) as conn:
        assert conn.execute("select nct_id, title, status from trials").fetchall() == [
            ("NCT06731192", record["title"], "NOT_YET_RECRUITING")
        ]
        register(conn)  # trialwatch_record(): records are stored compressed since m008
        assert json.loads(conn.execute("select trialwatch_record(id) from snapshots").fetchone()[0]) == record
        assert conn.execute("select count(*) from checks").fetchone()[0] == 1
        # The new search index knows the old trial.
        assert conn.execute("select rowid from trials_fts where trials_fts match 'Alport'").fetchall() != []
    # And the old database works on: the edited page gives its changes.
    assert tw(old, "ingest", EDITED, "--observed-at", "2025-03-15").exit_code == 0
    assert len(json.loads(tw(old, "diff", "NCT06731192", "--format", "json").stdout)) == 5


def test_reparse_after_the_parser_learned_a_field_shows_no_false_change(tmp_path):
    db = tmp_path / "tw.db"
    # What an older parser made of the seed: no keywords, no interventions, no eligibility ages.
    old = parse_file(SEED)[0].record
    old["keywords"] = []
    old["interventions"] = []
    old["eligibility"]["minimum_age"] = old["eligibility"]["maximum_age"] = None
    store = Store(db)
    store.save(
        old,
        observed_utc="2025-01-02T00:00:00+00:00",
        source_kind="page text",
        source_ref=str(SEED),
        raw=SEED.read_bytes(),
    )
    store.close()

    # Without reparse, today's parser would report the fields it learned as changes.
    result = tw(db, "reparse")
    assert result.exit_code == 0, result.output
    assert "1 trials, 1 snapshots reparsed, 1 records changed, 0 failed" in result.stderr
    assert json.loads(tw(db, "show", "NCT06731192", "--format", "json").stdout) == parse_file(SEED)[0].record

    result = tw(db, "ingest", SEED)
    assert "1 unchanged" in result.stderr
    assert json.loads(tw(db, "diff", "NCT06731192", "--format", "json").stdout) == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from snapshots").fetchone()[0] == 1


def test_reparse_recomputes_the_changes_between_snapshots(tmp_path):
    db = tmp_path / "tw.db"
    tw(db, "ingest", SEED, "--observed-at", "2025-01-02")
    tw(db, "ingest", EDITED, "--observed-at", "2025-03-15")
    before = json.loads(tw(db, "diff", "NCT06731192", "--format", "json").stdout)
    with sqlite3.connect(db) as conn:  # a change row lost or wrong, as an older diff engine might have left it
        conn.execute("delete from changes where field = 'status'")
    result = tw(db, "reparse", "NCT06731192")
    assert result.exit_code == 0
    assert json.loads(tw(db, "diff", "NCT06731192", "--format", "json").stdout) == before
    assert tw(db, "reparse", "NCT0673119").exit_code == 2
