"""Upgrades: an old database migrates with nothing lost; reparse leaves no false changes."""

import json
import sqlite3
from pathlib import Path

import sqlite_utils

from clirun import tw
from dbcheck import consistent
from trialwatch.ingest.parse import parse_file
from trialwatch.ingest.record import canonical_json, content_hash
from trialwatch.snapshots.store.codec import decode_raw, register
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
        register(conn)  # trialwatch_record(): records are stored compressed since m010
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
    assert "1 trial, 1 snapshot reparsed, 1 record changed, 0 failed" in result.stderr
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


RELEASE = ROOT / "tests" / "fixtures" / "upgrade"


def _as_released(path) -> dict:
    """Everything a release-0.1 database holds, read with plain SQL as that release stored it."""
    with sqlite3.connect(path) as conn:
        snapshots = {}
        for sid, record, raw, encoding in conn.execute("select id, record, raw, raw_encoding from snapshots"):
            snapshots[sid] = (json.loads(record), decode_raw(raw, encoding))
        return {
            "snapshots": snapshots,
            "checks": conn.execute("select * from checks order by id").fetchall(),
            "changes": conn.execute("select * from changes order by id").fetchall(),
            "trials": conn.execute("select * from trials order by nct_id").fetchall(),
        }


def _printed_as_released(now, then) -> bool:
    """`now` says all `then` said: equal, but for keys added to objects since."""
    if isinstance(then, dict):
        return isinstance(now, dict) and all(key in now and _printed_as_released(now[key], then[key]) for key in then)
    if isinstance(then, list):
        return (
            isinstance(now, list)
            and len(now) == len(then)
            and all(_printed_as_released(a, b) for a, b in zip(now, then, strict=True))
        )
    return now == then


def test_a_database_made_by_the_released_version_migrates_to_compact_storage_with_nothing_lost(tmp_path):
    """tests/fixtures/upgrade/release-0.1.db was written by trialwatch 0.1.0 as released (its
    make_release_db.sh says how), with what that release printed for it beside it."""
    db = tmp_path / "release.db"
    db.write_bytes((RELEASE / "release-0.1.db").read_bytes())
    before = _as_released(db)
    assert len(before["snapshots"]) == 7 and len(before["checks"]) == 10

    Store(db).close()  # opening migrates: records and raw inputs become frames, checks compact rows
    with sqlite3.connect(db) as conn:
        register(conn)
        stored = conn.execute("select count(*), count(codec), count(raw), count(base_id) from snapshots").fetchone()
        assert stored == (7, 7, 0, 2)  # every row one frame; later versions deltas where they pay
        for sid, (record, raw) in before["snapshots"].items():
            got_record, got_raw = conn.execute("select trialwatch_record(?), trialwatch_raw(?)", [sid, sid]).fetchone()
            assert json.loads(got_record) == record and got_raw == raw, sid
        assert conn.execute("select * from checks order by id").fetchall() == before["checks"]
        assert conn.execute("select * from changes order by id").fetchall() == before["changes"]
        trials = conn.execute("select * from trials order by nct_id").fetchall()
        assert [row[: len(before["trials"][0])] for row in trials] == before["trials"]
        # Added by m011: each trial's last good check of an API record (saved JSON counts).
        assert conn.execute("select nct_id, registry_check_id from trials order by nct_id").fetchall() == [
            (nct_id, check_id)
            for nct_id, check_id in conn.execute(
                "select t.nct_id, (select max(id) from checks c where c.nct_id = t.nct_id and "
                "c.source_kind = 'ctgov api' and c.outcome != 'failed') from trials t order by t.nct_id"
            )
        ]
    fresh = tmp_path / "fresh.db"
    Store(fresh).close()
    assert schema(db) == schema(fresh)

    # What the release printed, the migrated database prints (with what later releases added:
    # each change's severity, since issue 12).
    for expected in sorted(RELEASE.glob("expected-*.json")):
        command, nct_id = expected.stem.removeprefix("expected-").rsplit("-", 1)
        args = {"diff": ["diff"], "history": ["history"], "show": ["show"], "show-at": ["show", "--at", "2025-03-31"]}
        result = tw(db, *args[command], nct_id, "--format", "json")
        assert _printed_as_released(json.loads(result.stdout), json.loads(expected.read_text())), expected.name

    # And it works on: a new version is a delta, the next run's unchanged check a compact row.
    assert tw(db, "ingest", EDITED, "--observed-at", "2025-06-01").exit_code == 0
    assert tw(db, "ingest", SEED, "--observed-at", "2025-06-02").exit_code == 0
    consistent(db)
    with sqlite3.connect(db) as conn:
        register(conn)
        assert conn.execute("select outcome from checks order by id desc limit 2").fetchall() == [("changed",)] * 2
        newest = conn.execute("select base_id, trialwatch_record(id) from snapshots order by id desc").fetchone()
        assert newest[0] is not None and json.loads(newest[1])["nct_id"] == "NCT06731192"
