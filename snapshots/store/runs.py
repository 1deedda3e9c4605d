"""The runs table: one row per `trialwatch run`, and what the run needs to know of earlier ones.

`RunLog` is the store's part that speaks its SQL; `Store.runs` is one.  The run itself
(`trialwatch.snapshots.jobs.run`) decides what to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass

from trialwatch.ingest.parse import API, HISTORY
from trialwatch.snapshots.store.outcomes import FAILED

# The columns a finished run fills, in the order `finish` takes them.
RUN_FIGURES = (
    "finished_utc",
    "data_timestamp",
    "requests",
    "trials_checked",
    "snapshots_written",
    "changes",
    "new_trials",
    "failures",
    "warnings",
    "versions_backfilled",
    "exit_status",
)
_FINISH = f"UPDATE runs SET {', '.join(f'{name} = ?' for name in RUN_FIGURES)} WHERE id = ?"


@dataclass
class WatchedCheck:
    """A watched trial and what the run needs of it: its latest checks of the registry's current
    record (source kind `ctgov api`: the last that did not fail, and FAILED when the latest
    failed), the registry's last update post date trialwatch holds, whether its newest snapshot
    says the registry no longer returns it (`absent`), and whether the registry ever returned it
    (a snapshot from the API or the registry's history: `seen`)."""

    nct_id: str
    last_ok_utc: str | None
    last_outcome: str | None
    last_updated: str | None = None
    absent: bool = False
    seen: bool = False

    @property
    def pending(self) -> bool:
        """Never checked, or its last check failed: checked at the next run whatever the registry's timestamp."""
        return self.last_ok_utc is None or self.last_outcome == FAILED


class RunLog:
    def __init__(self, db):
        self.db = db

    def start(self, started_utc: str, forced: bool, integrity: str | None = None) -> int:
        """A new run's row; `integrity`: 'ok' when the run checked the file first."""
        with self.db.atomic():
            return self.db.execute(
                "INSERT INTO runs (started_utc, forced, integrity) VALUES (?, ?, ?)",
                [started_utc, int(forced), integrity],
            ).lastrowid

    def last_integrity_check(self) -> str | None:
        """When a run last found the file whole (PRAGMA quick_check), or None."""
        row = self.db.execute("SELECT max(started_utc) FROM runs WHERE integrity = 'ok'").fetchone()
        return row[0] if row else None

    def finish(self, run_id: int, **figures) -> None:
        """Fill the run's row: every name of RUN_FIGURES, as keyword arguments."""
        with self.db.atomic():
            self.db.execute(_FINISH, [*(figures[name] for name in RUN_FIGURES), run_id])

    def last_clean_data_timestamp(self) -> str | None:
        """The registry data timestamp of the last run that finished with every trial checked."""
        row = self.db.execute(
            "SELECT data_timestamp FROM runs WHERE finished_utc IS NOT NULL AND exit_status = 0 "
            "AND data_timestamp IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def watched_checks(self) -> list[WatchedCheck]:
        """Every watched trial, by NCT id, with what the run needs of it (see WatchedCheck).

        Only checks of the current record count (a backfilled version or a saved page says
        nothing of whether the registry serves the trial now): the last good one is the trial's
        `registry_check_id`, the failed ones are the few `check_log` rows its partial index
        holds, and the latest of them by id is the latest check.  `absent` reads the newest
        snapshot's record only when it has no status, as an absent record has none.
        """
        out = []
        for nct_id, last_ok, ok_id, failed_id, updated, absent, seen in self.db.execute(
            "SELECT w.nct_id, (SELECT checked_utc FROM checks WHERE id = t.registry_check_id), t.registry_check_id, "
            "(SELECT max(c.id) FROM check_log c JOIN check_sources s ON s.id = c.source AND s.source_kind = ? "
            " WHERE c.trial = CAST(substr(w.nct_id, 4) AS INTEGER) AND c.outcome = 3), "
            "t.last_updated, "
            "(SELECT CASE WHEN s.status IS NULL THEN json_extract(trialwatch_record(s.id), '$.in_registry') = 0 END "
            " FROM snapshots s WHERE s.nct_id = w.nct_id ORDER BY s.observed_utc DESC, s.id DESC LIMIT 1), "
            "EXISTS (SELECT 1 FROM snapshots s WHERE s.nct_id = w.nct_id AND s.source_kind IN (?, ?)) "
            "FROM watchlist w LEFT JOIN trials t ON t.nct_id = w.nct_id ORDER BY w.nct_id",
            [API, API, HISTORY],
        ):
            failed_last = failed_id is not None and failed_id > (ok_id or 0)
            out.append(
                WatchedCheck(nct_id, last_ok, FAILED if failed_last else None, updated, bool(absent), bool(seen))
            )
        return out

    def seen_in_registry(self, nct_id: str) -> bool:
        """Whether the registry ever returned the trial: a snapshot from its API or its history."""
        return (
            self.db.execute(
                "SELECT 1 FROM snapshots WHERE nct_id = ? AND source_kind IN (?, ?) LIMIT 1", [nct_id, API, HISTORY]
            ).fetchone()
            is not None
        )
