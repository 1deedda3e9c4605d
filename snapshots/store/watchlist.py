"""The watchlist and saved searches: tables in the database, so Datasette shows them too.

`Watchlist` is the store's part that speaks their SQL; `Store.watchlist` is one.  The jobs
(`trialwatch.snapshots.jobs.watch`, `…jobs.run`) decide what to watch; this stores it.
"""

from __future__ import annotations

from trialwatch.snapshots.changes.dates import now_utc

# watchlist.backfill: the trial waits for its registry history, or has it.
BACKFILL_WAITING = 1
BACKFILL_DONE = 2


class WatchError(ValueError):
    """A watchlist request that cannot be done (a duplicate search name, an id not watched)."""


class Watchlist:
    def __init__(self, db):
        self.db = db

    def add(self, nct_ids, *, note=None, search_id=None, backfill=False, now=None) -> list[str]:
        """Watch these trials; returns the ids that were not watched before.

        A note replaces the old one.  `backfill`: the trials wait for their registry history
        (see `waiting_for_backfill`), unless they have it already.
        """
        now = now or now_utc()
        added = []
        with self.db.atomic():
            for nct_id in nct_ids:
                row = self.db.execute("SELECT note FROM watchlist WHERE nct_id = ?", [nct_id]).fetchone()
                if row is None:
                    self.db.execute(
                        "INSERT INTO watchlist (nct_id, added_utc, note, search_id, backfill) VALUES (?, ?, ?, ?, ?)",
                        [nct_id, now, note, search_id, BACKFILL_WAITING if backfill else None],
                    )
                    added.append(nct_id)
                    continue
                if note is not None:
                    self.db.execute("UPDATE watchlist SET note = ? WHERE nct_id = ?", [note, nct_id])
                if backfill:
                    self.db.execute(
                        "UPDATE watchlist SET backfill = ? WHERE nct_id = ? AND backfill IS NOT ?",
                        [BACKFILL_WAITING, nct_id, BACKFILL_DONE],
                    )
        return added

    def remove(self, nct_ids) -> None:
        """Stop watching these trials (their snapshots stay).  An id not watched is a WatchError."""
        missing = [n for n in nct_ids if not self.is_watched(n)]
        if missing:
            raise WatchError(f"{', '.join(missing)}: not on the watchlist")
        with self.db.atomic():
            for nct_id in nct_ids:
                self.db.execute("DELETE FROM watchlist WHERE nct_id = ?", [nct_id])

    def is_watched(self, nct_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM watchlist WHERE nct_id = ?", [nct_id]).fetchone() is not None

    def ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT nct_id FROM watchlist ORDER BY nct_id")]

    def trials(self) -> list[dict]:
        """The watchlist with each trial's current title and status."""
        return list(
            self.db.query(
                "SELECT w.nct_id, t.title, t.status, w.note, s.name AS search, w.added_utc, t.last_checked_utc "
                "FROM watchlist w LEFT JOIN trials t ON t.nct_id = w.nct_id LEFT JOIN searches s ON s.id = w.search_id "
                "ORDER BY w.nct_id"
            )
        )

    # -- backfill ------------------------------------------------------------------------

    def waiting_for_backfill(self, nct_ids=None) -> list[str]:
        """Watched trials waiting for their registry history (of these ids, when given)."""
        waiting = [
            row[0]
            for row in self.db.execute(
                "SELECT nct_id FROM watchlist WHERE backfill = ? ORDER BY nct_id", [BACKFILL_WAITING]
            )
        ]
        return waiting if nct_ids is None else [n for n in waiting if n in set(nct_ids)]

    def backfilled(self, nct_id: str) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE watchlist SET backfill = ? WHERE nct_id = ?", [BACKFILL_DONE, nct_id])

    # -- saved searches -------------------------------------------------------------------

    def add_search(self, query: str, name: str | None = None, *, backfill=False, now=None) -> int:
        """Save a search (ClinicalTrials.gov API parameters, validated by the caller).

        `backfill`: its new matches wait for their registry history.
        """
        name = name or query
        if self.db.execute("SELECT 1 FROM searches WHERE name = ?", [name]).fetchone():
            raise WatchError(f"a saved search is already called {name!r}")
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO searches (name, query, added_utc, backfill) VALUES (?, ?, ?, ?)",
                [name, query, now or now_utc(), int(backfill)],
            )
        return cursor.lastrowid

    def remove_search(self, name: str) -> None:
        row = self.db.execute("SELECT id FROM searches WHERE name = ?", [name]).fetchone()
        if row is None:
            raise WatchError(f"no saved search is called {name!r}")
        with self.db.atomic():
            self.db.execute("UPDATE watchlist SET search_id = NULL WHERE search_id = ?", [row[0]])
            self.db.execute("DELETE FROM searches WHERE id = ?", [row[0]])

    def searches(self) -> list[dict]:
        return list(
            self.db.query(
                "SELECT id, name, query, backfill, added_utc, last_run_utc, last_match_count FROM searches ORDER BY name"
            )
        )

    def search_ran(self, search_id: int, now: str, match_count: int) -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE searches SET last_run_utc = ?, last_match_count = ? WHERE id = ?", [now, match_count, search_id]
            )
