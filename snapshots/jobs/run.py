"""`trialwatch run`: refresh every watched trial and saved search, record the run, report news.

The registry is reached through a *source* object that ingest provides (see
`trialwatch.ingest.registry.RegistrySource`); this module knows no HTTP.  A source has:

- `data_timestamp() -> str`: when the registry's data were last refreshed;
- `trials(nct_ids) -> Iterator[Parsed | Failed]`: current records, batched (a trial the registry
  has no record of is a Failed with `missing` set);
- `each(nct_ids) -> Iterator[Parsed | Failed]`: the same, asked for one by one;
- `listed(nct_ids) -> Iterator[(nct_id, last update post date | None) | Failed]`: which trials
  the registry still returns, one small request per 1,000 ids (ids it lacks are not yielded);
- `search(query) -> Iterator[Parsed | Failed]`: the current matches of a saved search;
- `requests_made`: requests so far.

and, to backfill newly watched trials that asked for it, a *history* source (see
`snapshots.backfill`).

A watched trial the registry no longer has (HTTP 404 when asked for alone, after it returned
it before) is observed as `absent_record` (`in_registry` false): the change "No longer in the
registry" is critical and reported once (an absent trial seen absent again is unchanged), and
"Back in the registry" when it returns.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from trialwatch.ingest.errors import FetchError
from trialwatch.ingest.parse import API
from trialwatch.ingest.record import absent_record
from trialwatch.snapshots.changes.dates import now_utc
from trialwatch.snapshots.changes.diff import CATEGORIES, SEVERITIES
from trialwatch.snapshots.jobs.backfill import backfill_watched
from trialwatch.snapshots.jobs.findings import news_since
from trialwatch.snapshots.jobs.findings import refresh as refresh_findings
from trialwatch.snapshots.store.outcomes import UNCHANGED

FULL_CHECK_EVERY = timedelta(days=7)


class RunLocked(Exception):
    """Another run holds the database."""


class DatabaseDamaged(Exception):
    """The database file is damaged (SQLite's quick_check found a fault): the run wrote nothing."""


@contextmanager
def run_lock(db_path: str):
    """An exclusive lock beside the database, released when the process ends however it ends.
    Taken on the database's real path: a link to it (or a path through one) takes the same lock."""
    lock_path = f"{os.path.realpath(db_path)}.lock"
    handle = open(lock_path, "a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(f"another trialwatch run holds the database {db_path} (lock {lock_path})") from None
        yield
    finally:
        handle.close()


@dataclass
class RunReport:
    run_id: int
    started_utc: str
    finished_utc: str | None = None
    data_timestamp: str | None = None
    skipped: bool = False
    requests: int = 0
    trials_checked: int = 0
    snapshots_written: int = 0
    new_trials: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    backfilled: dict[str, int] = field(default_factory=dict)
    warnings: int = 0
    titles: dict[str, str] = field(default_factory=dict)  # the changed trials' titles, for the report
    findings: list[dict] = field(default_factory=list)  # findings that newly hold (jobs.findings.refresh)

    @property
    def exit_status(self) -> int:
        return 1 if self.failures else 0

    @property
    def has_news(self) -> bool:
        return bool(
            self.new_trials
            or self.changes
            or self.failures
            or self.warnings
            or self.versions_backfilled
            or self.findings
        )

    @property
    def versions_backfilled(self) -> int:
        return sum(self.backfilled.values())


def _due(watched, now: str) -> tuple[list[str], list]:
    """Watched trials split into (ids due a full check, the WatchedChecks of the others).

    Due in full: never checked, not checked for a week, or failed at their latest check.
    """
    cutoff = (datetime.fromisoformat(now) - FULL_CHECK_EVERY).isoformat(timespec="seconds")
    full: list[str] = []
    listed = []
    for trial in watched:
        if trial.pending or (trial.last_ok_utc or "") < cutoff:
            full.append(trial.nct_id)
        else:
            listed.append(trial)
    return full, listed


def run(store, source, *, history=None, force: bool = False, progress=None, now: str | None = None) -> RunReport:
    """One scheduled refresh.  Takes the run lock (RunLocked if another run holds it).

    Asks the registry's data timestamp first: when it has not moved since the last clean run,
    only watched trials never checked or whose last check failed are fetched (usually none:
    one request in all).  Otherwise saved searches are refreshed (new matches join the
    watchlist, reported as new), trials due a full check (see `_due`) are fetched in full, and
    the others are listed (`_confirm`): one small request per 1,000 ids says which the registry
    still returns and when each was last updated; those updated are fetched in full, those it
    no longer returns are asked for one by one.  Every trial commits on its own, so a run
    killed midway keeps what it did and the next run does the rest.  With a `history` source,
    watched trials waiting for a backfill (`watch add --backfill`, or new matches of a search
    saved with --backfill) then get their registry history, and the report says so.
    """
    now = now or now_utc()
    with run_lock(store.path):
        integrity = store.check_integrity(now)
        if integrity not in (None, "ok"):
            raise DatabaseDamaged(
                f"{store.path} is damaged ({integrity}); the run wrote nothing. Restore a backup, or "
                f"recover what SQLite can: sqlite3 {store.path} .recover | sqlite3 recovered.db"
            )
        held = store.findings.holding(store.watchlist.ids())
        report = _run(store, source, force=force, progress=progress, now=now, integrity=integrity)
        if history is not None:
            for result in backfill_watched(store, history):
                if result.fetched:
                    report.backfilled[result.nct_id] = len(result.fetched)
                report.failures.extend({"nct_id": result.nct_id, "error": message} for _, message in result.failed)
        # Every watched trial's findings, re-evaluated today: what newly holds since the run began is news.
        refresh_findings(store, store.watchlist.ids(), on=date.fromisoformat(report.started_utc[:10]))
        report.findings = news_since(store, held)
        return _finish(store, source, report)


def _run(store, source, *, force, progress, now, integrity=None) -> RunReport:
    report = RunReport(run_id=store.runs.start(now, force, integrity), started_utc=now)
    try:
        report.data_timestamp = source.data_timestamp()
    except FetchError as error:
        message = f"registry unreachable: {error}"
        # A check of the registry itself (no trial): the failure and its reason stay in `checks`.
        store.record_failure(None, source_kind=API, source_ref=None, error=message, run_id=report.run_id)
        report.failures.append({"nct_id": None, "error": message})
        return report
    last = store.runs.last_clean_data_timestamp()
    watched = store.runs.watched_checks()
    if last == report.data_timestamp and not force:
        report.skipped = True
        pending = [trial.nct_id for trial in watched if trial.pending]
        if pending:
            _take(store, source.trials(pending), report, progress)
        return report
    searched: set[str] = set()
    for search in sorted(store.watchlist.searches(), key=lambda row: row["id"]):
        searched |= _refresh_search(store, source, report, search, now, progress)
    watched = [trial for trial in watched if trial.nct_id not in searched]
    full, listed = _due(watched, now)
    if force or last is None:
        full, listed = full + [trial.nct_id for trial in listed], []
    if full:
        _take(store, source.trials(full), report, progress)
    if listed:
        _confirm(store, source, report, listed, progress)
    return report


def _confirm(store, source, report, watched, progress) -> None:
    """List these trials (one request per 1,000) and fetch those that may have changed: those
    whose last update post date is not the one trialwatch holds (the registry posts once a day,
    so a new version has a new date), those listed without one (the date filter the run used
    before dropped them silently), and those the registry returns again after it did not.
    Trials the listing lacks are asked for one by one (a 404 then means the registry no longer
    has them), but for those already known absent, whose absence the listing confirms at no cost."""
    held = {trial.nct_id: trial for trial in watched}
    fetch, seen = [], set()
    for item in source.listed(list(held)):
        if isinstance(item, tuple):
            nct_id, posted = item
            seen.add(nct_id)
            trial = held[nct_id]
            if trial.absent or posted is None or posted != trial.last_updated:
                fetch.append(nct_id)
        else:
            seen.add(item.nct_id)
            _failed(store, report, item)
    lacking = [nct_id for nct_id in held if nct_id not in seen]
    for nct_id in (n for n in lacking if held[n].absent):
        _save_absent(store, report, nct_id, source.study_ref(nct_id))
    if fetch:
        _take(store, source.trials(fetch), report, progress)
    asked = [nct_id for nct_id in lacking if not held[nct_id].absent]
    if asked:
        _take(store, source.each(asked), report, progress)


def _refresh_search(store, source, report, search, now, progress) -> set[str]:
    """Store the search's current matches; new ones join the watchlist.  Returns the ids seen."""
    seen = set()
    for item in source.search(search["query"]):
        if not hasattr(item, "record"):
            _failed(store, report, item)
            continue
        nct_id = item.record["nct_id"]
        seen.add(nct_id)
        if store.watchlist.add([nct_id], search_id=search["id"], backfill=bool(search["backfill"]), now=now):
            report.new_trials.append(
                {
                    "nct_id": nct_id,
                    "title": item.record.get("title"),
                    "status": item.record.get("status"),
                    "search": search["name"],
                }
            )
        _save(store, report, item, progress)
    store.watchlist.search_ran(search["id"], now, len(seen))
    return seen


def _take(store, items, report, progress) -> None:
    for item in items:
        if hasattr(item, "record"):
            _save(store, report, item, progress)
        else:
            _failed(store, report, item)


def _save(store, report, item, progress) -> None:
    saved = store.save(
        item.record,
        source_kind=item.source_kind,
        source_ref=item.source_ref,
        raw=item.raw,
        run_id=report.run_id,
        warnings=item.warnings,
    )
    report.trials_checked += 1
    report.warnings += len(item.warnings)
    if saved.outcome != UNCHANGED:
        report.snapshots_written += 1
    report.changes.extend(saved.changes)
    if progress:
        progress(item.record["nct_id"])


def _failed(store, report, item) -> None:
    """A trial that could not be had is a failed check; but a 404 for one the registry returned
    before is an observation: it no longer has the trial."""
    if getattr(item, "missing", False) and item.nct_id and store.runs.seen_in_registry(item.nct_id):
        _save_absent(store, report, item.nct_id, item.source_ref)
        return
    store.record_failure(
        item.nct_id, source_kind=item.source_kind, source_ref=item.source_ref, error=item.error, run_id=report.run_id
    )
    report.trials_checked += 1
    report.failures.append({"nct_id": item.nct_id, "error": item.error})


def _save_absent(store, report, nct_id: str, ref: str) -> None:
    """The registry no longer returns the trial: a change the first time, unchanged after."""
    saved = store.save(absent_record(nct_id), source_kind=API, source_ref=ref, run_id=report.run_id)
    report.trials_checked += 1
    if saved.outcome != UNCHANGED:
        report.snapshots_written += 1
    report.changes.extend(saved.changes)


def _finish(store, source, report) -> RunReport:
    report.finished_utc = now_utc()
    report.requests = getattr(source, "requests_made", 0)
    report.titles = store.reading.titles({change["nct_id"] for change in report.changes})
    store.runs.finish(
        report.run_id,
        finished_utc=report.finished_utc,
        data_timestamp=report.data_timestamp,
        requests=report.requests,
        trials_checked=report.trials_checked,
        snapshots_written=report.snapshots_written,
        changes=len(report.changes),
        new_trials=len(report.new_trials),
        failures=len(report.failures),
        warnings=report.warnings,
        versions_backfilled=report.versions_backfilled,
        exit_status=report.exit_status,
    )
    return report


def news_order(changes: list[dict]) -> list[dict]:
    """Changes grouped by trial, the trials with the gravest change first, critical first within each."""
    by_trial: dict[str, list] = {}
    for change in changes:
        by_trial.setdefault(change["nct_id"], []).append(change)
    for group in by_trial.values():
        group.sort(key=lambda c: (SEVERITIES.index(c["severity"]), CATEGORIES.index(c["category"])))
    ordered = sorted(by_trial.items(), key=lambda kv: (SEVERITIES.index(kv[1][0]["severity"]), kv[0]))
    return [change for _, group in ordered for change in group]
