"""Reading what reports, pictures and feeds show, over any SQLite connection to a trialwatch
database: the store's own, or one of Datasette's read-only connections (so its pages use the
same SQL as the command line, and SQL stays in this folder).

Records are read through `Timelines.records`, never with SQL of their own, so the way records
are stored can change behind it.
"""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from trialwatch.snapshots.changes.diff import SEVERITIES, sort_key
from trialwatch.snapshots.changes.known import as_record, merge
from trialwatch.snapshots.store.timeline import CHANGE_COLUMNS, Timelines, change_dict

_TRIAL_INFO = (
    "SELECT nct_id, title, status, first_seen_utc, last_checked_utc, last_changed_utc, snapshot_count "
    "FROM trials WHERE nct_id IN (SELECT value FROM json_each(?))"
)
_CHANGE_COLUMNS = ", ".join(("id", *CHANGE_COLUMNS))


class UnknownSelection(ValueError):
    """A saved search or trial the database does not have."""


class Reading:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.timelines = Timelines(sqlite_utils.Database(conn))

    def _rows(self, sql: str, params=()) -> list[dict]:
        cursor = self.conn.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def trials(self, nct_ids) -> dict[str, dict]:
        """Each known trial's row (title, status, first seen, last checked, snapshots), by id."""
        return {row["nct_id"]: row for row in self._rows(_TRIAL_INFO, [json.dumps(sorted(set(nct_ids)))])}

    def titles(self, nct_ids) -> dict[str, str]:
        return {nct_id: row["title"] for nct_id, row in self.trials(nct_ids).items() if row["title"]}

    def timeline(self, nct_id: str) -> list[dict]:
        """Each snapshot of a trial, oldest first, with the trial as known then (each field's last
        known value, in the record's shape): snapshot_id, observed_at, source_kind, record."""
        kinds = dict(self.conn.execute("SELECT id, source_kind FROM snapshots WHERE nct_id = ?", [nct_id]).fetchall())
        known, entries = None, []
        for snapshot_id, observed_utc, record in self.timelines.records(nct_id):
            known = merge(known, record)
            entries.append(
                {
                    "snapshot_id": snapshot_id,
                    "observed_at": observed_utc,
                    "source_kind": kinds.get(snapshot_id),
                    "record": as_record(known),
                }
            )
        return entries

    def search_id(self, name: str) -> int:
        row = self.conn.execute("SELECT id FROM searches WHERE name = ?", [name]).fetchone()
        if row is None:
            names = [r[0] for r in self.conn.execute("SELECT name FROM searches ORDER BY name")]
            raise UnknownSelection(
                f"no saved search is called {name!r}" + (f" (saved: {', '.join(map(repr, names))})" if names else "")
            )
        return row[0]

    def changes(
        self,
        *,
        nct_ids=None,
        watchlist: bool = False,
        search: str | None = None,
        severities=None,
        limit: int | None = None,
    ) -> list[dict]:
        """Changes newest first (by snapshot, in report order within one): of these trials, of the
        watched ones, or of those a saved search brought; of these severities; the newest `limit`
        changes at most.  Each a change dict with `change_id`, the row's id."""
        where: list[str] = []
        params: list[object] = []
        if nct_ids:
            where.append("nct_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(nct_ids)))
        if watchlist:
            where.append("nct_id IN (SELECT nct_id FROM watchlist)")
        if search is not None:
            where.append("nct_id IN (SELECT nct_id FROM watchlist WHERE search_id = ?)")
            params.append(self.search_id(search))
        if severities:
            where.append("severity IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([s for s in SEVERITIES if s in set(severities)]))
        sql = f"SELECT {_CHANGE_COLUMNS} FROM changes" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY observed_utc DESC, snapshot_id DESC, id" + (" LIMIT ?" if limit else "")
        rows = self._rows(sql, [*params, limit] if limit else params)
        groups: dict[int, list] = {}
        for row in rows:
            groups.setdefault(row["snapshot_id"], []).append(change_dict(row))
        return [change for group in groups.values() for change in sorted(group, key=sort_key)]
