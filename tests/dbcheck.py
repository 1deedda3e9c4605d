"""Checks of a database's promises, shared by the tests that kill, fill or fault it."""

import sqlite3
from pathlib import Path


def write_corpus(folder: Path, n: int, source: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = source.read_text()
    for i in range(n):
        nct = f"NCT{90000000 + i:08d}"
        (folder / f"{nct}.txt").write_text(text.replace("NCT06731192", nct))


def consistent(db) -> None:
    """The promises a kill must not break (a database killed before its schema was made has no data)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # `checks` is a view over the compact check tables since m010: it reads as the table did.
        tables = {name for (name,) in conn.execute("select name from sqlite_master where type in ('table', 'view')")}
        core = {"trials", "snapshots", "changes", "checks"}
        if not core <= tables:  # killed while the schema was being made: no data anywhere
            for table in sorted(tables & core):
                assert conn.execute(f"select count(*) from [{table}]").fetchone()[0] == 0
            return
        # Every snapshot has all its change rows; no change row lacks its snapshot.
        assert (
            conn.execute(
                "select count(*) from snapshots s where change_count != (select count(*) from changes c where c.snapshot_id = s.id)"
            ).fetchone()[0]
            == 0
        )
        assert (
            conn.execute(
                "select count(*) from changes c where not exists (select 1 from snapshots s where s.id = c.snapshot_id)"
            ).fetchone()[0]
            == 0
        )
        # Every snapshot was written with its check.
        assert (
            conn.execute(
                "select count(*) from snapshots s where not exists (select 1 from checks c where c.snapshot_id = s.id)"
            ).fetchone()[0]
            == 0
        )
        # The trials table matches the latest snapshots.
        assert (
            conn.execute(
                "select count(*) from trials t where status is not (select status from snapshots s where s.nct_id = t.nct_id "
                "order by observed_utc desc, id desc limit 1) "
                "or latest_snapshot_id is not (select id from snapshots s where s.nct_id = t.nct_id "
                "order by observed_utc desc, id desc limit 1) "
                "or snapshot_count != (select count(*) from snapshots s where s.nct_id = t.nct_id)"
            ).fetchone()[0]
            == 0
        )
        assert (
            conn.execute(
                "select count(*) from snapshots s where not exists (select 1 from trials t where t.nct_id = s.nct_id)"
            ).fetchone()[0]
            == 0
        )
    finally:
        conn.close()


def ingest_state(db):
    with sqlite3.connect(db) as conn:
        return (
            sorted(conn.execute("select nct_id, observed_utc, content_hash from snapshots")),
            sorted(conn.execute("select nct_id, observed_utc, field, kind, summary from changes")),
            sorted(conn.execute("select nct_id, status, snapshot_count from trials")),
        )
