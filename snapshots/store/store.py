"""Records → dated snapshots, checks and change rows in SQLite.

One `Store.save()` per trial observation, in one transaction: the check row, the snapshot
(only when the record differs from its neighbours on the trial's timeline), its change rows
and the trial's current row commit together or not at all.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from trialwatch.ingest.record import canonical_json, hash_canonical
from trialwatch.snapshots.changes.dates import now_utc
from trialwatch.snapshots.changes.diff import diff_records, sort_key
from trialwatch.snapshots.store.history import RegistryHistory
from trialwatch.snapshots.store.migrations import migrate
from trialwatch.snapshots.store.outcomes import CHANGED, FAILED, NEW, UNCHANGED
from trialwatch.snapshots.store.runs import RunLog
from trialwatch.snapshots.store.watchlist import Watchlist

BUSY_TIMEOUT_MS = 15_000
CACHE_KIB = 64 * 1024  # SQLite page cache: the indexes of a whole-registry database stay in memory
WAL_CHECKPOINT_PAGES = 16_384
RAW_ZSTD_LEVEL = 3  # 6x faster than zlib level 6 for 1.06x the size (tests/benchmarks/bench.py)

_SNAPSHOT_INSERT = (
    "INSERT INTO snapshots (nct_id, observed_utc, last_updated, status, source_kind, source_ref, source_version, "
    "module_labels, content_hash, record, raw, raw_encoding, change_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CHECK_INSERT = (
    "INSERT INTO checks (nct_id, checked_utc, source_kind, source_ref, source_version, outcome, snapshot_id, error, "
    "warnings, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

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
JSON_CHANGE_COLUMNS = ("old", "new", "lines_added", "lines_removed")


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


def _unknown(record: dict, path: str) -> bool:
    unknown = record.get("unknown") or ()
    parts = path.split(".")
    return any(".".join(parts[:i]) in unknown for i in range(1, len(parts) + 1))


def decode_raw(data: bytes | None, encoding: str | None) -> bytes | None:
    """A snapshot's raw input as stored (`raw`, `raw_encoding`) → the input's bytes.

    'zstd' since the bulk import; 'zlib' rows written before it read the same.
    """
    if data is None:
        return None
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(data)
    if encoding == "zlib":
        return zlib.decompress(data)
    if encoding is None:
        return bytes(data)
    raise StoreError(f"raw input stored in an unknown encoding {encoding!r}", bad_input=False)


def _warnings_text(warnings: list[str] | None) -> str | None:
    """A check's parser warnings as stored: one per line, None when there were none."""
    return "\n".join(warnings) if warnings else None


_INSERTS: dict = {}


def _insert_sql(table: str, columns: tuple) -> str:
    sql = _INSERTS.get((table, columns))
    if sql is None:
        sql = _INSERTS[(table, columns)] = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        )
    return sql


class Store:
    def __init__(self, path: str, *, create: bool = True):
        self.path = str(path)
        if not create and not os.path.exists(self.path):
            raise StoreError(f"{self.path}: no such database (ingest something first, or give --db)", bad_input=True)
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.db.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: each trial's commit
            # is still atomic, and survives the process being killed; a power cut may lose the
            # last commits, never part of one.
            self.db.execute("PRAGMA synchronous = NORMAL")
            # Checkpoint (and sync) every 64 MiB of WAL rather than every 4 MiB: a bulk import
            # syncs the same data in fewer, larger writes.
            self.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            self.db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._zstd: Any = None  # a zstandard.ZstdCompressor, made on first use
            migrate(self.db)
            self.watchlist = Watchlist(self.db)
            self.runs = RunLog(self.db)
            # The registry's history index (not `history`: that is the trial's snapshots, below).
            self.registry_history = RegistryHistory(self.db)
        except sqlite3.DatabaseError as error:
            not_a_database = "not a database" in str(error) or "encrypted" in str(error)
            raise StoreError(f"{self.path}: cannot open the database ({error})", bad_input=not_a_database) from None

    def close(self) -> None:
        self.db.conn.close()

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
    ) -> Saved:
        """Store one observation of a trial; returns what it did.

        The snapshot goes into the trial's timeline at `observed_utc`: it is written only when
        its record differs from the snapshot before it and the one after it.  The snapshot
        after it, if any, gets its change rows recomputed against it.
        """
        observed_utc = observed_utc or now_utc()
        checked_utc = checked_utc or now_utc()
        nct_id = record["nct_id"]
        text = canonical_json(record)
        digest = hash_canonical(text)
        execute = self.db.conn.execute
        with self.db.atomic():
            before = self._neighbour(nct_id, observed_utc, before=True)
            after = self._neighbour(nct_id, observed_utc, before=False)
            newest = first = None
            if before and before["content_hash"] == digest:
                result = Saved(nct_id, UNCHANGED, before["id"])
            elif after and after["content_hash"] == digest:
                # Seen earlier than we knew: the state it records began at `observed_utc`.
                execute("UPDATE snapshots SET observed_utc = ? WHERE id = ?", [observed_utc, after["id"]])
                execute("UPDATE changes SET observed_utc = ? WHERE snapshot_id = ?", [observed_utc, after["id"]])
                result = Saved(nct_id, UNCHANGED, after["id"])
            else:
                first = (
                    not before
                    and not after
                    and not record.get("unknown")
                    and self._insert_trial(nct_id, record, observed_utc, checked_utc)
                )
                if not first:
                    self._ensure_trial(nct_id, observed_utc)
                changes = diff_records(self._record(before["id"]), record) if before else []
                for change in changes:
                    change["observed_at"] = observed_utc
                stored_raw, raw_encoding = self._compress(raw) if raw is not None else (None, None)
                snapshot_id = execute(
                    _SNAPSHOT_INSERT,
                    (
                        nct_id,
                        observed_utc,
                        record.get("last_updated"),
                        record.get("status"),
                        source_kind,
                        source_ref,
                        source_version,
                        json.dumps(module_labels) if module_labels is not None else None,
                        digest,
                        text,
                        stored_raw,
                        raw_encoding,
                        len(changes),
                    ),
                ).lastrowid
                assert snapshot_id is not None  # an INSERT into a rowid table
                self._insert_changes(snapshot_id, observed_utc, changes)
                if after:
                    self._rediff(after, record)
                elif not record.get("unknown"):
                    newest = (snapshot_id, record, observed_utc, bool(changes))
                result = Saved(nct_id, CHANGED if before else NEW, snapshot_id, changes)
            execute(
                _CHECK_INSERT,
                (
                    nct_id,
                    checked_utc,
                    source_kind,
                    source_ref,
                    source_version,
                    result.outcome,
                    result.snapshot_id,
                    None,
                    _warnings_text(warnings),
                    run_id,
                ),
            )
            if before and result.snapshot_id == before["id"]:
                # Unchanged: the timeline is as it was; only the time of the check is new.
                execute("UPDATE trials SET last_checked_utc = ? WHERE nct_id = ?", [checked_utc, nct_id])
            elif first:
                execute("UPDATE trials SET latest_snapshot_id = ? WHERE nct_id = ?", [result.snapshot_id, nct_id])
            else:
                self._refresh_trial(nct_id, checked_utc, newest=newest)
        return result

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
        with self.db.atomic():
            self.db.conn.execute(
                _CHECK_INSERT,
                (
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
                ),
            )

    def _neighbour(self, nct_id: str, observed_utc: str, *, before: bool):
        """The snapshot just before (or after) `observed_utc` on the trial's timeline: id and hash
        (the record, a large read, only when it is needed: `_record`)."""
        if before:
            sql = (
                "SELECT id, content_hash FROM snapshots WHERE nct_id = ? AND observed_utc <= ? "
                "ORDER BY observed_utc DESC, id DESC LIMIT 1"
            )
        else:
            sql = (
                "SELECT id, content_hash FROM snapshots WHERE nct_id = ? AND observed_utc > ? "
                "ORDER BY observed_utc, id LIMIT 1"
            )
        row = self.db.conn.execute(sql, [nct_id, observed_utc]).fetchone()
        return {"id": row[0], "content_hash": row[1]} if row else None

    def _record(self, snapshot_id: int) -> dict:
        return json.loads(
            self.db.conn.execute("SELECT record FROM snapshots WHERE id = ?", [snapshot_id]).fetchone()[0]
        )

    def _compress(self, raw: bytes) -> tuple[bytes, str]:
        if self._zstd is None:
            import zstandard

            self._zstd = zstandard.ZstdCompressor(level=RAW_ZSTD_LEVEL)
        return self._zstd.compress(raw), "zstd"

    def _insert_trial(self, nct_id: str, record: dict, observed_utc: str, checked_utc: str) -> bool:
        """A new trial's row, whole, from its first record: one insert, so its search text is
        indexed once.  False (nothing written) if the trial has a row already."""
        values = {column: read(record) for column, (_, read) in TRIAL_COLUMNS.items()}
        values.update(
            nct_id=nct_id,
            first_seen_utc=observed_utc,
            last_checked_utc=checked_utc,
            last_changed_utc=observed_utc,
            snapshot_count=1,
        )
        sql = _insert_sql("trials", tuple(values)).replace("INSERT", "INSERT OR IGNORE", 1)
        return self.db.conn.execute(sql, tuple(values.values())).rowcount == 1

    def _ensure_trial(self, nct_id: str, observed_utc: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO trials (nct_id, first_seen_utc, snapshot_count) VALUES (?, ?, 0)",
            [nct_id, observed_utc],
        )

    def _insert_changes(self, snapshot_id: int, observed_utc: str, changes: list[dict]) -> None:
        for change in changes:
            row = {k: v for k, v in change.items() if k != "observed_at"}
            row.update(snapshot_id=snapshot_id, observed_utc=observed_utc)
            for column in JSON_CHANGE_COLUMNS:
                if row[column] is not None:
                    row[column] = json.dumps(row[column], ensure_ascii=False, sort_keys=True)
            for column in ("became_actual", "precision_changed"):
                if row[column] is not None:
                    row[column] = int(row[column])
            self.db.conn.execute(_insert_sql("changes", tuple(row)), tuple(row.values()))

    def _rediff(self, snapshot: dict, previous_record: dict) -> None:
        """Recompute a snapshot's change rows against a newly inserted predecessor."""
        observed = self.db.execute("SELECT observed_utc FROM snapshots WHERE id = ?", [snapshot["id"]]).fetchone()[0]
        changes = diff_records(previous_record, self._record(snapshot["id"]))
        self.db.execute("DELETE FROM changes WHERE snapshot_id = ?", [snapshot["id"]])
        self._insert_changes(snapshot["id"], observed, changes)
        self.db.execute("UPDATE snapshots SET change_count = ? WHERE id = ?", [len(changes), snapshot["id"]])

    def rewrite_records(self, nct_id: str, remake) -> int:
        """Re-make a trial's records in place and recompute its change rows; one transaction.

        `remake(snapshot)` gets each snapshot (id, nct_id, observed_utc, source_kind, source_ref,
        raw decoded to bytes, record parsed) oldest first and returns its new record.  Returns
        how many records changed.
        """
        changed = 0
        with self.db.atomic():
            previous = None
            for row in list(
                self.db.query(
                    "SELECT id, nct_id, observed_utc, source_kind, source_ref, raw, raw_encoding, record, content_hash "
                    "FROM snapshots WHERE nct_id = ? ORDER BY observed_utc, id",
                    [nct_id],
                )
            ):
                row["raw"] = decode_raw(row.pop("raw"), row.pop("raw_encoding"))
                row["record"] = json.loads(row["record"])
                record = remake(row)
                text = canonical_json(record)
                digest = hash_canonical(text)
                changed += digest != row["content_hash"]
                changes: list[dict] = diff_records(previous, record) if previous is not None else []
                self.db.execute(
                    "UPDATE snapshots SET record = ?, content_hash = ?, status = ?, last_updated = ?, change_count = ? "
                    "WHERE id = ?",
                    [text, digest, record.get("status"), record.get("last_updated"), len(changes), row["id"]],
                )
                self.db.execute("DELETE FROM changes WHERE snapshot_id = ?", [row["id"]])
                self._insert_changes(row["id"], row["observed_utc"], changes)
                previous = record
            checked = self.db.execute("SELECT last_checked_utc FROM trials WHERE nct_id = ?", [nct_id]).fetchone()
            self._refresh_trial(nct_id, checked[0] if checked else None)
        return changed

    def _refresh_trial(self, nct_id: str, checked_utc: str | None, *, newest: tuple | None = None) -> None:
        """The trial's current row: each column from the newest snapshot whose source carries it.

        `newest`: (snapshot id, record, observed_utc, has change rows) of a snapshot just added
        as the newest on the timeline, whose source carries every field: the row is made from
        it and the trial's previous row, without reading the other snapshots back.
        """
        if newest is not None:
            snapshot_id, record, observed_utc, changed = newest
            row = {column: read(record) for column, (_, read) in TRIAL_COLUMNS.items()}
            count, first_seen = self.db.conn.execute(
                "SELECT count(*), min(observed_utc) FROM snapshots WHERE nct_id = ?", [nct_id]
            ).fetchone()
            row.update(
                snapshot_count=count,
                first_seen_utc=first_seen,
                latest_snapshot_id=snapshot_id,
                last_checked_utc=checked_utc,
            )
            if changed or count == 1:
                row["last_changed_utc"] = observed_utc
            assignments = ", ".join(f"{column} = ?" for column in row)
            self.db.conn.execute(f"UPDATE trials SET {assignments} WHERE nct_id = ?", [*row.values(), nct_id])
            return
        values: dict = {}
        latest_id = None
        for snapshot_id, text in self.db.execute(
            "SELECT id, record FROM snapshots WHERE nct_id = ? ORDER BY observed_utc DESC, id DESC", [nct_id]
        ):
            record = json.loads(text)
            latest_id = latest_id or snapshot_id
            for column, (path, read) in TRIAL_COLUMNS.items():
                if column not in values and not _unknown(record, path):
                    values[column] = read(record)
            if len(values) == len(TRIAL_COLUMNS):
                break
        if latest_id is None:
            return
        stats = self.db.execute(
            "SELECT count(*), min(observed_utc), max(CASE WHEN change_count > 0 THEN observed_utc END) "
            "FROM snapshots WHERE nct_id = ?",
            [nct_id],
        ).fetchone()
        values.update(
            snapshot_count=stats[0],
            first_seen_utc=stats[1],
            last_changed_utc=stats[2] or stats[1],
            latest_snapshot_id=latest_id,
            last_checked_utc=checked_utc,
        )
        assignments = ", ".join(f"{column} = ?" for column in values)
        self.db.execute(f"UPDATE trials SET {assignments} WHERE nct_id = ?", [*values.values(), nct_id])

    # -- reading -------------------------------------------------------------------------

    def versions_had(self, nct_id: str, source_kind: str) -> set[int]:
        """Registry versions of a trial already read from `source_kind`: stored as snapshots, or
        checked and found equal to one."""
        return {
            row[0]
            for row in self.db.execute(
                "SELECT source_version FROM snapshots WHERE nct_id = ? AND source_kind = ? AND source_version IS NOT NULL "
                "UNION SELECT source_version FROM checks WHERE nct_id = ? AND source_kind = ? AND outcome != ? "
                "AND source_version IS NOT NULL",
                [nct_id, source_kind, nct_id, source_kind, FAILED],
            )
        }

    def trial_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT nct_id FROM trials ORDER BY nct_id")]

    def has_trial(self, nct_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM trials WHERE nct_id = ?", [nct_id]).fetchone() is not None

    def history(self, nct_id: str) -> list[dict]:
        """One entry per snapshot of a trial, oldest first."""
        sql = (
            "SELECT id AS snapshot_id, observed_utc AS observed_at, last_updated, source_kind, source_ref, "
            "source_version, status, json_extract(record, '$.enrollment') AS enrollment, change_count "
            "FROM snapshots WHERE nct_id = ? ORDER BY observed_utc, id"
        )
        rows = []
        for row in self.db.query(sql, [nct_id]):
            row["enrollment"] = json.loads(row["enrollment"]) if row["enrollment"] else None
            rows.append(row)
        return rows

    def record_at(self, nct_id: str, at: str | None = None) -> dict | None:
        """The record as it stood at `at` (UTC instant text), or the latest."""
        row = self.db.execute(
            "SELECT record FROM snapshots WHERE nct_id = ? AND observed_utc <= ? ORDER BY observed_utc DESC, id DESC LIMIT 1",
            [nct_id, at or "9999"],
        ).fetchone()
        return json.loads(row[0]) if row else None

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
            "SELECT * FROM changes"
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
        out = {"nct_id": row["nct_id"], "observed_at": row["observed_utc"], "snapshot_id": row["snapshot_id"]}
        for key in (
            "category",
            "severity",
            "field",
            "item",
            "kind",
            "old",
            "new",
            "summary",
            "shift_days",
            "old_type",
            "new_type",
            "became_actual",
            "precision_changed",
            "percent_change",
            "lines_added",
            "lines_removed",
        ):
            value = row[key]
            if key in JSON_CHANGE_COLUMNS and value is not None:
                value = json.loads(value)
            if key in ("became_actual", "precision_changed") and value is not None:
                value = bool(value)
            out[key] = value
        return out
