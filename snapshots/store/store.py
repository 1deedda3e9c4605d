"""Records → dated snapshots, checks and change rows in SQLite.

One `Store.save()` per trial observation, all or nothing: the check row, the snapshot (only when
the observation changes what is known of the trial: a change, or a field known for the first
time), its change rows and the trial's current row commit together or not at all, in a
transaction of their own or, inside `Store.bulk()`, in a savepoint of a batch of trials.
Every change is computed against the trial as known before it (each field's last known value,
`trialwatch.snapshots.changes.known`), so it is dated at the first snapshot that shows it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlite_utils

from trialwatch.ingest.parse import API
from trialwatch.ingest.record import canonical_json
from trialwatch.snapshots.changes.dates import now_utc
from trialwatch.snapshots.changes.diff import sort_key
from trialwatch.snapshots.changes.known import as_record, fingerprint, start
from trialwatch.snapshots.store import codec
from trialwatch.snapshots.store.checklog import CheckLog
from trialwatch.snapshots.store.codec import decode_raw as decode_raw  # raw inputs of rows written before m010
from trialwatch.snapshots.store.findings import FindingsTable
from trialwatch.snapshots.store.history import RegistryHistory
from trialwatch.snapshots.store.migrations import migrate, schema_state
from trialwatch.snapshots.store.outcomes import CHANGED, FAILED, NEW, UNCHANGED
from trialwatch.snapshots.store.reading import Reading
from trialwatch.snapshots.store.runs import RunLog
from trialwatch.snapshots.store.timeline import CHANGE_COLUMNS, Observation, Placed, Timelines, adds_to, change_dict
from trialwatch.snapshots.store.watchlist import Watchlist

BUSY_TIMEOUT_MS = 15_000
CACHE_KIB = 64 * 1024  # SQLite page cache: the indexes of a whole-registry database stay in memory
PAGE_SIZE = 32_768  # new databases (tests/benchmarks/bench.py: 12% of a snapshot page unused, 22% at 4 KB)
WAL_CHECKPOINT_BYTES = 64 * 1024 * 1024
# A run checks the file before it writes (Store.check_integrity): every run up to this size,
# larger files when no run checked them in the last INTEGRITY_EVERY.
INTEGRITY_EVERY_RUN_BYTES = 1 << 30
INTEGRITY_EVERY = timedelta(days=7)
# Bulk work (`Store.bulk`) commits every this many trials or seconds, whichever comes first.
BATCH_TRIALS = 500
BATCH_SECONDS = 1.0

# Bulk work indexes the trials it adds for search once per batch (migration m010_search_by_batch).
_SEARCH_PENDING = "UPDATE search_state SET pending_from = (SELECT coalesce(max(rowid), 0) + 1 FROM trials)"
_SEARCH_INDEX = (
    "INSERT INTO trials_fts (rowid, title, conditions, keywords, interventions, sponsor) "
    "SELECT rowid, title, conditions, keywords, interventions, sponsor FROM trials "
    "WHERE rowid >= (SELECT pending_from FROM search_state)"
)
_SEARCH_DONE = "UPDATE search_state SET pending_from = NULL"

# trials column → (record path it comes from, how to read it)
TRIAL_COLUMNS = {
    "title": ("title", lambda r: r.get("title")),
    "status": ("status", lambda r: r.get("status")),
    "phases": ("phases", lambda r: json.dumps(r.get("phases") or [])),
    "study_type": ("study_type", lambda r: r.get("study_type")),
    "enrollment_count": ("enrollment", lambda r: (r.get("enrollment") or {}).get("count")),
    "enrollment_type": ("enrollment.type", lambda r: (r.get("enrollment") or {}).get("type")),
    "start_date": ("start_date", lambda r: (r.get("start_date") or {}).get("date")),
    "start_date_type": ("start_date.type", lambda r: (r.get("start_date") or {}).get("type")),
    "primary_completion_date": (
        "primary_completion_date",
        lambda r: (r.get("primary_completion_date") or {}).get("date"),
    ),
    "primary_completion_date_type": (
        "primary_completion_date.type",
        lambda r: (r.get("primary_completion_date") or {}).get("type"),
    ),
    "completion_date": ("completion_date", lambda r: (r.get("completion_date") or {}).get("date")),
    "completion_date_type": ("completion_date.type", lambda r: (r.get("completion_date") or {}).get("type")),
    "last_updated": ("last_updated", lambda r: r.get("last_updated")),
    "has_results": ("has_results", lambda r: int(bool(r.get("has_results")))),
    # Search text (migration m003: trials_fts), lists "; "-joined.
    "conditions": ("conditions", lambda r: "; ".join(map(str, r.get("conditions") or [])) or None),
    "keywords": ("keywords", lambda r: "; ".join(map(str, r.get("keywords") or [])) or None),
    "interventions": (
        "interventions",
        lambda r: (
            "; ".join(i["name"] for i in r.get("interventions") or [] if isinstance(i, dict) and i.get("name")) or None
        ),
    ),
    "sponsor": ("lead_sponsor.name", lambda r: (r.get("lead_sponsor") or {}).get("name")),
}
# The trials row besides the record's columns: the trial's timeline and its known state (NULL when
# it is the newest snapshot's record, as it is for a trial only the API has shown).
TRIAL_STATE = ("snapshot_count", "first_seen_utc", "last_changed_utc", "latest_snapshot_id", "known")
_TRIAL_UPDATE = f"UPDATE trials SET {', '.join(f'{c} = ?' for c in (*TRIAL_COLUMNS, *TRIAL_STATE))} WHERE nct_id = ?"
_TRIAL_INSERT = (
    f"INSERT INTO trials (nct_id, first_seen_utc, last_checked_utc, {', '.join(TRIAL_COLUMNS)}) "
    f"VALUES (?, ?, ?, {', '.join('?' for _ in TRIAL_COLUMNS)})"
)


class StoreError(Exception):
    """The database cannot be used (missing, not a trialwatch database, read-only, disk full).

    `bad_input`: the fault is what the user named (a missing file, a file that is not a
    database), not the machine (a read-only or full disk).
    """

    def __init__(self, message: str, *, bad_input: bool):
        super().__init__(message)
        self.bad_input = bad_input


@dataclass
class Saved:
    """What one save did: `outcome` is new (first snapshot), changed or unchanged."""

    nct_id: str
    outcome: str
    snapshot_id: int | None
    changes: list[dict] = field(default_factory=list)


def _warnings_text(warnings: list[str] | None) -> str | None:
    """A check's parser warnings as stored: one per line, None when there were none."""
    return "\n".join(warnings) if warnings else None


class _Database(sqlite_utils.Database):
    """sqlite-utils' Database whose write transactions begin IMMEDIATE.

    A deferred transaction that reads first and then writes fails at once with "database is
    locked" when another process wrote meanwhile (SQLITE_BUSY_SNAPSHOT: the busy timeout cannot
    help it).  Taking the write lock at BEGIN makes a second writer wait its turn instead, so two
    writers (two imports, an import during a run) both finish.
    """

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        if self.conn.in_transaction:  # nested: a savepoint, as sqlite-utils does
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


def _writable(path: str) -> bool:
    """Whether SQLite can write the database and its WAL beside it."""
    directory = os.path.dirname(os.path.abspath(path))
    return os.access(directory, os.W_OK) and (not os.path.exists(path) or os.access(path, os.W_OK))


def _connect_read_only(path: str) -> sqlite3.Connection:
    """The database opened for reading only: `mode=ro`, or `immutable=1` where even that cannot
    work (read-only media, where SQLite cannot make the WAL's shared-memory file)."""
    base = "file:" + urllib.parse.quote(os.path.abspath(path))
    for query in ("?mode=ro", "?immutable=1"):
        conn = sqlite3.connect(base + query, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            if query == "?immutable=1":
                raise
    raise AssertionError("unreachable")


class Store:
    def __init__(self, path: str, *, create: bool = True, read_only: bool = False):
        """Open (`create`: or make) the database at `path`, bringing it to the current schema.

        `read_only`: the caller only reads.  A database trialwatch cannot write (read-only media,
        a file or folder without write permission) or written by a newer trialwatch is then
        opened for reading only, with no migration; without `read_only` those are StoreErrors.
        """
        self.path = str(path)
        if not create and not os.path.exists(self.path):
            raise StoreError(f"{self.path}: no such database (ingest something first, or give --db)", bad_input=True)
        self.read_only = read_only and os.path.exists(self.path) and not _writable(self.path)
        if not read_only and os.path.exists(self.path) and not _writable(self.path):
            raise StoreError(
                f"{self.path}: cannot be written here (a read-only file, folder or disk); diff, show, "
                "history, changes and serve can read it",
                bad_input=False,
            )
        try:
            if self.read_only:
                conn = _connect_read_only(self.path)
            else:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self.db = _Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._check_schema(read_only)
            if not self.read_only:
                self._set_up()
            self._batch: dict | None = None  # the open batch of `bulk`, if any
            codec.register(self.db.conn)
            if not self.read_only:
                migrate(self.db)
            self.watchlist = Watchlist(self.db)
            self.runs = RunLog(self.db)
            self.timelines = Timelines(self.db)
            self.checks = CheckLog(self.db)
            # The registry's history index (not `history`: that is the trial's snapshots, below).
            self.registry_history = RegistryHistory(self.db)
            self.reading = Reading(self.db.conn)  # what reports, pictures and feeds read
            self.findings = FindingsTable(self.db, self.timelines)
        except sqlite3.DatabaseError as error:
            not_a_database = "not a database" in str(error) or "encrypted" in str(error)
            raise StoreError(f"{self.path}: cannot open the database ({error})", bad_input=not_a_database) from None

    def _check_schema(self, read_only: bool) -> None:
        """Refuse what this trialwatch cannot do with the database's schema: write to one a newer
        trialwatch wrote (reading it is allowed: read-only), read one it cannot migrate here."""
        pending, unknown = schema_state(self.db)
        if unknown and not read_only:
            raise StoreError(
                f"{self.path}: written by a newer trialwatch (its schema has {unknown[-1]}); upgrade "
                "trialwatch to write to it",
                bad_input=True,
            )
        if unknown and not self.read_only:
            self.db.conn.close()
            self.read_only = True
            self.db = _Database(_connect_read_only(self.path))
        if pending and self.read_only and os.path.getsize(self.path) > 0:
            raise StoreError(
                f"{self.path}: written by an older trialwatch and cannot be written here to upgrade it "
                f"({len(pending)} migrations pending); open it once where it can be written",
                bad_input=False,
            )

    def _set_up(self) -> None:
        """The connection's settings for writing (new files: 32 KB pages, WAL)."""
        if self.db.execute("PRAGMA page_count").fetchone()[0] == 0:  # a new file: before WAL and tables
            # Snapshots are frames of about 4 KB: on 4 KB pages a fifth of each page went unused.
            self.db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: each trial's commit
        # is still atomic, and survives the process being killed; a power cut may lose the
        # last commits, never part of one.
        self.db.execute("PRAGMA synchronous = NORMAL")
        # Checkpoint (and sync) every 64 MiB of WAL rather than every 4 MiB: a bulk import
        # syncs the same data in fewer, larger writes.
        page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        self.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_BYTES // page_size}")
        self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")

    def close(self) -> None:
        self.db.conn.close()

    def check_integrity(self, now: str) -> str | None:
        """SQLite's `PRAGMA quick_check` of the whole file, before a run writes into it: every run
        while the file is up to 1 GiB, larger files once in INTEGRITY_EVERY.  Measured on the
        benchmark's 1.75 GiB history database: 8.7 s from disk, 1.0 s from the page cache, so a
        whole-registry file (about 11 GB) would add about a minute to one run a week.  Returns
        None when not checked this time, 'ok', or what SQLite found (its first lines)."""
        if os.path.getsize(self.path) > INTEGRITY_EVERY_RUN_BYTES:
            last = self.runs.last_integrity_check()
            if last and last >= (datetime.fromisoformat(now) - INTEGRITY_EVERY).isoformat(timespec="seconds"):
                return None
        try:
            found = [row[0] for row in self.db.execute("PRAGMA quick_check(3)").fetchall()]
        except sqlite3.DatabaseError as error:  # damage where the check itself starts
            return str(error)
        return "ok" if found == ["ok"] else "; ".join(found)

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One observation's writes, all or nothing: a transaction of its own, or a savepoint
        inside the open batch of `bulk` (which commits it with the trials around it)."""
        try:
            with self.db.atomic():
                yield
        except BaseException:
            self._forget()  # rows read or written in what was rolled back
            raise
        if self._batch is not None:
            self._batch_done()

    @contextmanager
    def bulk(self, *, trials: int = BATCH_TRIALS, seconds: float = BATCH_SECONDS) -> Iterator[None]:
        """Commit several trials per transaction while this block runs: every `trials` trials or
        `seconds` seconds, and at its end.  Each trial's check, snapshot and change rows are
        still all or nothing (a savepoint each); a process killed mid-way loses at most the
        trials of the batch not yet committed, never part of a trial.  An exception ends the
        block after committing the trials done before it."""
        if self._batch is not None:
            yield
            return
        # The first commits come after 1, 2, 4… trials: a short ingest commits as it goes too.
        self._batch = {"limit": 1, "most": trials, "seconds": seconds, "count": 0, "since": time.monotonic()}
        self._begin_batch()
        try:
            yield
        except BaseException:
            self._end_batch()
            raise
        else:
            self._end_batch()
        finally:
            self._batch = None

    def _batch_done(self) -> None:
        batch = self._batch
        assert batch is not None
        batch["count"] += 1
        if batch["count"] >= batch["limit"] or time.monotonic() - batch["since"] >= batch["seconds"]:
            self._commit_batch()
            self._begin_batch()
            batch["count"], batch["since"] = 0, time.monotonic()
            batch["limit"] = min(2 * batch["limit"], batch["most"])

    def _begin_batch(self) -> None:
        """A batch's transaction: trials added from here on are indexed for search at its commit."""
        self.db.conn.execute("BEGIN IMMEDIATE")
        self.db.conn.execute(_SEARCH_PENDING)

    def _commit_batch(self) -> None:
        execute = self.db.conn.execute
        execute(_SEARCH_INDEX)
        execute(_SEARCH_DONE)
        execute("COMMIT")

    def _end_batch(self) -> None:
        if not self.db.conn.in_transaction:
            return
        try:
            self._commit_batch()
        except BaseException:
            self.db.conn.rollback()
            self._forget()
            raise

    def _forget(self) -> None:
        """After a rollback: what was remembered of rows that may no longer exist."""
        self.timelines.cache.clear()
        self.checks.sources.clear()

    # -- writing -------------------------------------------------------------------------

    def save(
        self,
        record: dict,
        *,
        observed_utc: str | None = None,
        source_kind: str,
        source_ref: str | None = None,
        raw: bytes | None = None,
        source_version: int | None = None,
        module_labels: list[str] | None = None,
        run_id: int | None = None,
        checked_utc: str | None = None,
        warnings: list[str] | None = None,
        record_text: str | None = None,
        packed: bytes | None = None,
    ) -> Saved:
        """Store one observation of a trial, placed on its timeline at `observed_utc` (default now);
        returns what it did.  A snapshot is written only when the observation changes what is known
        of the trial; snapshots after it, if any, get their change rows recomputed.  `record_text`
        and `packed`: the record's canonical JSON and its frame, when the caller made them
        (`ingest.parse.Parsed`: the bulk reader does)."""
        observation = Observation(
            record,
            observed_utc or now_utc(),
            source_kind,
            source_ref,
            raw,
            source_version,
            module_labels,
            record_text or "",
            packed,
        )
        checked_utc = checked_utc or now_utc()
        with self._transaction():
            result = self._place(observation)
            check_id = self.checks.add(
                observation.nct_id,
                checked_utc,
                source_kind,
                source_ref,
                source_version,
                result.outcome,
                result.snapshot_id,
                None,
                _warnings_text(warnings),
                run_id,
                record.get("last_updated"),
            )
            self._checked(
                observation.nct_id, checked_utc, record.get("last_updated"), check_id if source_kind == API else None
            )
        return result

    def _place(self, observation: Observation) -> Saved:
        nct_id, timelines = observation.nct_id, self.timelines
        before, after = timelines.neighbours(nct_id, observation.observed_utc)
        if before and before.digest == observation.digest:
            return Saved(nct_id, UNCHANGED, before.id)
        if after and after.digest == observation.digest:
            timelines.move_earlier(after.id, observation.observed_utc)
            self._refresh_trial(nct_id, timelines.known_before(nct_id, "9999"))
            return Saved(nct_id, UNCHANGED, after.id)
        if after is None:
            return self._first(observation) if before is None else self._append(observation, before)
        return self._insert(observation, before)

    def _first(self, observation: Observation) -> Saved:
        """A trial's first snapshot: no changes; its row made whole in one insert (searched once)."""
        known = start(observation.record)
        values = [read(known) for _, read in TRIAL_COLUMNS.values()]
        inserted = self.db.conn.execute(
            _TRIAL_INSERT.replace("INSERT", "INSERT OR IGNORE", 1),
            [observation.nct_id, observation.observed_utc, None, *values],
        ).rowcount
        snapshot_id = self.timelines.insert(observation, [], first=True)  # no snapshot yet: a key frame
        if inserted:
            self.db.conn.execute(
                "UPDATE trials SET snapshot_count = 1, last_changed_utc = ?, latest_snapshot_id = ? WHERE nct_id = ?",
                [observation.observed_utc, snapshot_id, observation.nct_id],
            )
        else:  # the trial's row outlived its snapshots (a watched trial never fetched)
            self._refresh_trial(observation.nct_id, known)
        return Saved(observation.nct_id, NEW, snapshot_id)

    def _append(self, observation: Observation, before: Placed) -> Saved:
        """The newest observation: compared with the trial as known at the end of its timeline."""
        changes, known, adds = adds_to(self._known_at_end(observation.nct_id, before), observation.record)
        if not adds:
            return Saved(observation.nct_id, UNCHANGED, before.id)
        snapshot_id = self.timelines.insert(observation, changes)
        self._refresh_trial(observation.nct_id, known)
        return Saved(observation.nct_id, CHANGED, snapshot_id, changes)

    def _insert(self, observation: Observation, before: Placed | None) -> Saved:
        """An observation older than the trial's newest snapshot: placed where it belongs, and the
        change rows of every snapshot after it recomputed."""
        nct_id = observation.nct_id
        earlier = self.timelines.known_before(nct_id, observation.observed_utc)
        changes, _, adds = adds_to(earlier, observation.record)
        if not adds:
            return Saved(nct_id, UNCHANGED, before.id if before else None)
        snapshot_id = self.timelines.insert(observation, changes)
        self._refresh_trial(nct_id, self.timelines.replay(nct_id))
        return Saved(nct_id, CHANGED if before else NEW, snapshot_id, changes)

    def _known_at_end(self, nct_id: str, newest: Placed) -> dict:
        row = self.db.conn.execute("SELECT known FROM trials WHERE nct_id = ?", [nct_id]).fetchone()
        if row and row[0]:
            return json.loads(row[0])
        return start(self.timelines.record(newest.id))

    def _checked(self, nct_id: str, checked_utc: str, last_updated: str | None, registry_check: int | None) -> None:
        """Every check: when (and which, for a check of the registry's current record), and the
        newest registry last-update date seen (kept even when the observation added nothing, so
        an update-date bump is no snapshot but is not lost)."""
        self.db.conn.execute(
            "UPDATE trials SET last_checked_utc = ?, registry_check_id = coalesce(?, registry_check_id), "
            "last_updated = CASE WHEN ? > coalesce(last_updated, '') THEN ? ELSE last_updated END WHERE nct_id = ?",
            [checked_utc, registry_check, last_updated, last_updated, nct_id],
        )

    def record_failure(
        self,
        nct_id: str | None,
        *,
        source_kind: str,
        source_ref: str | None,
        error: str,
        run_id: int | None = None,
        checked_utc: str | None = None,
        source_version: int | None = None,
    ) -> None:
        """A check that failed: why, and of what; nothing else is written."""
        with self._transaction():
            self.checks.add(
                nct_id,
                checked_utc or now_utc(),
                source_kind,
                source_ref,
                source_version,
                FAILED,
                None,
                error,
                None,
                run_id,
                None,
            )

    def _refresh_trial(self, nct_id: str, known: dict | None) -> None:
        """The trial's current row: each column as known (its last known value), and its timeline."""
        if known is None:
            return
        count, first_seen, last_changed, latest_id = self.db.conn.execute(
            "SELECT count(*), min(observed_utc), max(CASE WHEN change_count > 0 THEN observed_utc END), "
            "(SELECT id FROM snapshots WHERE nct_id = ? ORDER BY observed_utc DESC, id DESC LIMIT 1) "
            "FROM snapshots WHERE nct_id = ?",
            [nct_id, nct_id],
        ).fetchone()
        self.db.conn.execute(
            "INSERT OR IGNORE INTO trials (nct_id, first_seen_utc, snapshot_count) VALUES (?, ?, 0)",
            [nct_id, first_seen],
        )
        newest = self.timelines.record(latest_id)
        stored = None if fingerprint(known) == fingerprint(start(newest)) else canonical_json(known)
        values = [read(known) for _, read in TRIAL_COLUMNS.values()]
        state = [count, first_seen, last_changed or first_seen, latest_id, stored]
        self.db.conn.execute(_TRIAL_UPDATE, [*values, *state, nct_id])

    def rewrite_records(self, nct_id: str, remake) -> int:
        """Re-make a trial's records in place and recompute its change rows; one transaction.

        `remake(snapshot)` gets each snapshot (id, nct_id, observed_utc, source_kind, source_ref,
        raw decoded to bytes, record parsed) oldest first and returns its new record.  Returns
        how many records changed.
        """
        changed = 0
        with self._transaction():
            rows = self.db.execute(
                "SELECT id, nct_id, observed_utc, source_kind, source_ref FROM snapshots WHERE nct_id = ? "
                "ORDER BY observed_utc, id",
                [nct_id],
            ).fetchall()
            records = {}
            for snapshot_id, nct, observed_utc, source_kind, source_ref in rows:
                old_text, raw = codec.split(self.timelines.content(snapshot_id))
                snapshot = {
                    "id": snapshot_id,
                    "nct_id": nct,
                    "observed_utc": observed_utc,
                    "source_kind": source_kind,
                    "source_ref": source_ref,
                    "raw": raw,
                    "record": json.loads(old_text),
                }
                records[snapshot_id] = remake(snapshot)
                changed += canonical_json(records[snapshot_id]) != old_text
            self.timelines.rewrite_records(nct_id, records)
            self._refresh_trial(nct_id, self.timelines.replay(nct_id))
        return changed

    # -- reading -------------------------------------------------------------------------

    def versions_had(self, nct_id: str, source_kind: str) -> set[int]:
        """Registry versions of a trial already read from `source_kind`: stored as snapshots, or
        checked and found equal to one."""
        stored = {
            row[0]
            for row in self.db.execute(
                "SELECT source_version FROM snapshots WHERE nct_id = ? AND source_kind = ? AND source_version IS NOT NULL",
                [nct_id, source_kind],
            )
        }
        return stored | self.checks.versions(nct_id, source_kind)

    def newest_registry_date(self, nct_id: str) -> str | None:
        """The newest registry last-update date any check of the trial has seen."""
        row = self.db.execute("SELECT last_updated FROM trials WHERE nct_id = ?", [nct_id]).fetchone()
        return row[0] if row else None

    def trial_numbers(self) -> array:
        """The NCT numbers of the trials with snapshots, sorted (compact: 8 bytes a trial)."""
        return array(
            "q",
            (
                row[0]
                for row in self.db.conn.execute(
                    "SELECT CAST(substr(nct_id, 4) AS INTEGER) AS n FROM trials WHERE snapshot_count > 0 "
                    "AND nct_id GLOB 'NCT[0-9]*' ORDER BY n"
                )
            ),
        )

    def trial_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT nct_id FROM trials ORDER BY nct_id")]

    def has_trial(self, nct_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM trials WHERE nct_id = ?", [nct_id]).fetchone() is not None

    def history(self, nct_id: str) -> list[dict]:
        """One entry per snapshot of a trial, oldest first."""
        sql = (
            "SELECT id AS snapshot_id, observed_utc AS observed_at, last_updated, source_kind, source_ref, "
            "source_version, status, json_extract(trialwatch_record(id), '$.enrollment') AS enrollment, change_count "
            "FROM snapshots WHERE nct_id = ? ORDER BY observed_utc, id"
        )
        rows = []
        for row in self.db.query(sql, [nct_id]):
            row["enrollment"] = json.loads(row["enrollment"]) if row["enrollment"] else None
            rows.append(row)
        return rows

    def record_at(self, nct_id: str, at: str | None = None) -> dict | None:
        """The trial as known at `at` (UTC instant text), or now: each field's last known value,
        in the record's shape (`unknown`: the fields no source had carried yet)."""
        known = self.timelines.known_before(nct_id, at or "9999")
        return as_record(known) if known is not None else None

    def changes(
        self,
        nct_ids=None,
        *,
        since: str | None = None,
        categories=None,
        severities=None,
        newest_first=False,
    ) -> list[dict]:
        """Stored changes as change dicts (the keys of diff.CHANGE_KEYS), grouped by snapshot."""
        where, params = [], []
        for column, values in (("nct_id", nct_ids), ("category", categories), ("severity", severities)):
            if values:
                where.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if since:
            where.append("observed_utc >= ?")
            params.append(since)
        order = "DESC" if newest_first else ""
        sql = (
            f"SELECT id, {', '.join(CHANGE_COLUMNS)} FROM changes"
            + (" WHERE " + " AND ".join(where) if where else "")
            + (f" ORDER BY observed_utc {order}, snapshot_id {order}, id")
        )
        rows = [self._change_dict(row) for row in self.db.query(sql, params)]
        # Within one snapshot: status, dates and enrollment first.
        groups: dict[int, list] = {}
        for row in rows:
            groups.setdefault(row.pop("snapshot_id"), []).append(row)
        return [change for group in groups.values() for change in sorted(group, key=sort_key)]

    @staticmethod
    def _change_dict(row: dict) -> dict:
        out = change_dict(row)
        del out["change_id"]
        return out
