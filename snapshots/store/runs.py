"""The runs table: one row per `trialwatch run`, and what the run needs to know of earlier ones.

`RunLog` is the store's part that speaks its SQL; `Store.runs` is one.  The run itself
(`trialwatch.snapshots.jobs.run`) decides what to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "exit_status",
)
_FINISH = f"UPDATE runs SET {', '.join(f'{name} = ?' for name in RUN_FIGURES)} WHERE id = ?"


@dataclass
class WatchedCheck:
    """A watched trial and its latest checks: the last one that did not fail, and the last outcome."""

    nct_id: str
    last_ok_utc: str | None
    last_outcome: str | None


class RunLog:
    def __init__(self, db):
        self.db = db

    def start(self, started_utc: str, forced: bool) -> int:
        with self.db.atomic():
            return self.db.execute(
                "INSERT INTO runs (started_utc, forced) VALUES (?, ?)", [started_utc, int(forced)]
            ).lastrowid

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
        """Every watched trial with its last good check and its last outcome, by NCT id."""
        return [
            WatchedCheck(*row)
            for row in self.db.execute(
                "SELECT w.nct_id, "
                "(SELECT max(checked_utc) FROM checks c WHERE c.nct_id = w.nct_id AND c.outcome != ?), "
                "(SELECT outcome FROM checks c WHERE c.nct_id = w.nct_id ORDER BY c.id DESC LIMIT 1) "
                "FROM watchlist w ORDER BY w.nct_id",
                [FAILED],
            )
        ]
