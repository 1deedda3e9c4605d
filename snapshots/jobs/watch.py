"""The watchlist and saved searches: tables in the database, so Datasette shows them too."""

from __future__ import annotations

from trialwatch.snapshots.changes.dates import now_utc


class WatchError(ValueError):
    """A watchlist request that cannot be done (a duplicate search name, an id not watched)."""


def add_trials(db, nct_ids, *, note=None, search_id=None, backfill=False, now=None) -> list[str]:
    """Watch these trials; returns the ids that were not watched before.

    A note replaces the old one.  `backfill`: the trials wait for their registry history
    (watchlist.backfill 1: waiting, 2: done), fetched by `run` or by the caller.
    """
    now = now or now_utc()
    added = []
    with db.atomic():
        for nct_id in nct_ids:
            row = db.execute("SELECT note FROM watchlist WHERE nct_id = ?", [nct_id]).fetchone()
            if row is None:
                db.execute("INSERT INTO watchlist (nct_id, added_utc, note, search_id, backfill) VALUES (?, ?, ?, ?, ?)",
                           [nct_id, now, note, search_id, 1 if backfill else None])
                added.append(nct_id)
            else:
                if note is not None:
                    db.execute("UPDATE watchlist SET note = ? WHERE nct_id = ?", [note, nct_id])
                if backfill:
                    db.execute("UPDATE watchlist SET backfill = 1 WHERE nct_id = ? AND backfill IS NOT 2", [nct_id])
    return added


def remove_trials(db, nct_ids) -> None:
    """Stop watching these trials (their snapshots stay).  An id not watched is a WatchError."""
    missing = [n for n in nct_ids if db.execute("SELECT 1 FROM watchlist WHERE nct_id = ?", [n]).fetchone() is None]
    if missing:
        raise WatchError(f"{', '.join(missing)}: not on the watchlist")
    with db.atomic():
        for nct_id in nct_ids:
            db.execute("DELETE FROM watchlist WHERE nct_id = ?", [nct_id])


def add_search(db, query: str, name: str | None = None, *, backfill=False, now=None) -> int:
    """Save a search (ClinicalTrials.gov API parameters, validated by the caller).

    `backfill`: its new matches wait for their registry history.
    """
    name = name or query
    if db.execute("SELECT 1 FROM searches WHERE name = ?", [name]).fetchone():
        raise WatchError(f"a saved search is already called {name!r}")
    with db.atomic():
        cursor = db.execute("INSERT INTO searches (name, query, added_utc, backfill) VALUES (?, ?, ?, ?)",
                            [name, query, now or now_utc(), int(backfill)])
    return cursor.lastrowid


def remove_search(db, name: str) -> None:
    row = db.execute("SELECT id FROM searches WHERE name = ?", [name]).fetchone()
    if row is None:
        raise WatchError(f"no saved search is called {name!r}")
    with db.atomic():
        db.execute("UPDATE watchlist SET search_id = NULL WHERE search_id = ?", [row[0]])
        db.execute("DELETE FROM searches WHERE id = ?", [row[0]])


def watched(db) -> list[dict]:
    """The watchlist with each trial's current title and status."""
    return list(db.query(
        "SELECT w.nct_id, t.title, t.status, w.note, s.name AS search, w.added_utc, t.last_checked_utc "
        "FROM watchlist w LEFT JOIN trials t ON t.nct_id = w.nct_id LEFT JOIN searches s ON s.id = w.search_id "
        "ORDER BY w.nct_id"
    ))


def searches(db) -> list[dict]:
    return list(db.query("SELECT id, name, query, backfill, added_utc, last_run_utc, last_match_count FROM searches ORDER BY name"))
