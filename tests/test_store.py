"""The store on a real SQLite file: snapshots only on change, every check logged, one timeline."""

import copy
import json
import sqlite3
import zlib

import pytest

from trialwatch.ingest.record import empty_record
from trialwatch.snapshots.store.migrations import migrations
from trialwatch.snapshots.store.store import Store, StoreError, decode_raw

NCT = "NCT01234567"


def record(**fields):
    base = empty_record(NCT)
    base.update(title="A trial", status="NOT_YET_RECRUITING", last_updated="2025-01-01")
    base.update(fields)
    return base


def day(n):
    return f"2025-01-{n:02d}T00:00:00+00:00"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "t.db")
    yield s
    s.close()


def rows(store, sql, params=()):
    return [tuple(r) for r in store.db.execute(sql, params).fetchall()]


def test_same_record_twice_is_one_snapshot_and_two_checks(store):
    first = store.save(record(), observed_utc=day(1), source_kind="page text", source_ref="a.txt", raw=b"page")
    second = store.save(record(), observed_utc=day(2), source_kind="page text", source_ref="a.txt", raw=b"page")
    assert (first.outcome, second.outcome) == ("new", "unchanged")
    assert rows(store, "select count(*) from snapshots") == [(1,)]
    assert rows(store, "select outcome, snapshot_id from checks order by id") == [("new", 1), ("unchanged", 1)]


def test_snapshot_keeps_source_hash_record_and_compressed_raw(store):
    store.save(record(), observed_utc=day(1), source_kind="page text", source_ref="seeds/a.txt", raw=b"the page")
    snap = store.db.execute("select * from snapshots").fetchone()
    columns = [d[0] for d in store.db.execute("select * from snapshots").description]
    snap = dict(zip(columns, snap, strict=True))
    assert snap["observed_utc"] == day(1) and snap["last_updated"] == "2025-01-01"
    assert (snap["source_kind"], snap["source_ref"]) == ("page text", "seeds/a.txt")
    assert snap["codec"] == 1 and snap["base_id"] is None and snap["raw"] is None  # one compressed frame
    record_json, raw = store.db.execute("select trialwatch_record(id), trialwatch_raw(id) from snapshots").fetchone()
    assert json.loads(record_json) == record() and raw == b"the page"
    assert len(snap["content_hash"]) == 64


def test_raw_inputs_stored_with_zlib_before_zstd_still_read():
    assert decode_raw(zlib.compress(b"an old page", 6), "zlib") == b"an old page"
    assert decode_raw(None, None) is None


def test_a_change_writes_a_snapshot_its_change_rows_and_the_trial_row(store):
    store.save(record(), observed_utc=day(1), source_kind="t")
    saved = store.save(record(status="RECRUITING", last_updated="2025-01-05"), observed_utc=day(5), source_kind="t")
    assert saved.outcome == "changed" and len(saved.changes) == 1
    assert rows(store, "select snapshot_id, observed_utc, field, old, new from changes") == [
        (2, day(5), "status", '"NOT_YET_RECRUITING"', '"RECRUITING"')
    ]
    trial = store.db["trials"].get(NCT)
    assert (trial["status"], trial["first_seen_utc"], trial["last_changed_utc"], trial["snapshot_count"]) == (
        "RECRUITING",
        day(1),
        day(5),
        2,
    )


def test_an_older_observation_goes_into_the_timeline_and_rediffs_its_successor(store):
    store.save(record(), observed_utc=day(1), source_kind="t")
    store.save(record(status="COMPLETED"), observed_utc=day(20), source_kind="t")
    # A page saved on day 10 turns up later.
    store.save(record(status="RECRUITING"), observed_utc=day(10), source_kind="t")
    changes = store.changes([NCT])
    assert [(c["observed_at"], c["old"], c["new"]) for c in changes] == [
        (day(10), "NOT_YET_RECRUITING", "RECRUITING"),
        (day(20), "RECRUITING", "COMPLETED"),
    ]
    assert store.db["trials"].get(NCT)["status"] == "COMPLETED"


def test_an_earlier_sighting_of_a_stored_state_moves_it_earlier_not_a_second_snapshot(store):
    store.save(record(), observed_utc=day(1), source_kind="t")
    store.save(record(status="RECRUITING"), observed_utc=day(20), source_kind="t")
    saved = store.save(record(status="RECRUITING"), observed_utc=day(8), source_kind="t")
    assert saved.outcome == "unchanged"
    assert rows(store, "select observed_utc, status from snapshots order by observed_utc") == [
        (day(1), "NOT_YET_RECRUITING"),
        (day(8), "RECRUITING"),
    ]
    assert [c["observed_at"] for c in store.changes([NCT])] == [day(8)]


def test_trial_row_keeps_what_a_poorer_source_does_not_carry(store):
    api = record(
        primary_completion_date={"date": "2027-12", "type": "ESTIMATED"}, enrollment={"count": 40, "type": "ESTIMATED"}
    )
    page = record(
        enrollment={"count": 40, "type": None},
        unknown=["primary_completion_date", "enrollment.type"],
        last_updated="2025-02-01",
    )
    store.save(api, observed_utc=day(1), source_kind="ctgov api")
    store.save(page, observed_utc=day(2), source_kind="page text")
    trial = store.db["trials"].get(NCT)
    assert (trial["primary_completion_date"], trial["enrollment_type"], trial["last_updated"]) == (
        "2027-12",
        "ESTIMATED",
        "2025-02-01",
    )


def test_failures_are_checks_with_their_reason(store):
    store.record_failure("NCT09999999", source_kind="ctgov api", source_ref="https://x", error="HTTP 404")
    assert rows(store, "select nct_id, outcome, error from checks") == [("NCT09999999", "failed", "HTTP 404")]
    assert rows(store, "select count(*) from trials") == [(0,)]


def test_record_at_gives_the_record_as_it_stood(store):
    store.save(record(), observed_utc=day(1), source_kind="t")
    store.save(record(status="RECRUITING"), observed_utc=day(10), source_kind="t")
    assert store.record_at(NCT, day(5))["status"] == "NOT_YET_RECRUITING"
    assert store.record_at(NCT)["status"] == "RECRUITING"
    assert store.record_at(NCT, "2024-12-31T00:00:00+00:00") is None


def test_a_failed_transaction_leaves_nothing_half_written(store):
    store.save(record(), observed_utc=day(1), source_kind="t")
    store.db.execute("CREATE TRIGGER boom BEFORE INSERT ON changes BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with pytest.raises(sqlite3.DatabaseError):
        store.save(record(status="RECRUITING"), observed_utc=day(2), source_kind="t")
    assert rows(store, "select count(*) from snapshots") == [(1,)]
    assert rows(store, "select count(*) from checks") == [(1,)]
    assert store.db["trials"].get(NCT)["status"] == "NOT_YET_RECRUITING"


def test_wal_mode_and_the_schema_comes_from_migrations(store, tmp_path):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [m.name for m in migrations.applied(store.db)]
    assert applied == [m.name for m in migrations._migrations]
    assert {"trials", "snapshots", "check_log", "changes"} <= set(store.db.table_names())
    assert "checks" in store.db.view_names()  # the compact check tables read as the table they were
    fks = {(fk.column, fk.other_table) for fk in store.db["changes"].foreign_keys}
    assert fks == {("snapshot_id", "snapshots"), ("nct_id", "trials")}


def test_reading_a_missing_database_is_an_error_and_creates_nothing(tmp_path):
    with pytest.raises(StoreError, match="no such database"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_not_a_database_is_a_clean_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(junk)


def test_changes_filters(store):
    base = record(start_date={"date": "2025-03", "type": "ESTIMATED"})
    store.save(base, observed_utc=day(1), source_kind="t")
    new = copy.deepcopy(base)
    new.update(status="RECRUITING", start_date={"date": "2025-09", "type": "ESTIMATED"})
    store.save(new, observed_utc=day(9), source_kind="t")
    assert [c["category"] for c in store.changes([NCT])] == ["status", "dates"]
    assert [c["category"] for c in store.changes([NCT], categories=["dates"])] == ["dates"]
    assert store.changes([NCT], since=day(10)) == []
    assert [c["severity"] for c in store.changes(severities=["notable"])] == ["notable", "notable"]
