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
    """A watched trial and its latest checks: when the last one that did not fail was, and FAILED
    when the latest check failed (None otherwise)."""

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
        """Every watched trial with its last good check and whether its latest check failed, by NCT id.

        The last good check is the trial's `last_checked_utc` (every stored observation sets it);
        failed checks are the few `check_log` rows its partial index holds.  A failure in the
        same second as the last good check counts as the latest (the trial gets a full check)."""
        out = []
        for nct_id, last_ok, failed_utc in self.db.execute(
            "SELECT w.nct_id, t.last_checked_utc, "
            "(SELECT strftime('%Y-%m-%dT%H:%M:%S+00:00', max(c.checked), 'unixepoch') FROM check_log c "
            " WHERE c.trial = CAST(substr(w.nct_id, 4) AS INTEGER) AND c.outcome = 3) "
            "FROM watchlist w LEFT JOIN trials t ON t.nct_id = w.nct_id ORDER BY w.nct_id"
        ):
            failed_last = failed_utc is not None and (last_ok is None or failed_utc >= last_ok)
            out.append(WatchedCheck(nct_id, last_ok, FAILED if failed_last else None))
        return out
