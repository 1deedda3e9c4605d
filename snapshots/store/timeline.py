"""One trial's timeline in the database: its snapshots in time order and their change rows.

`Timelines` is the part of the store that reads and writes snapshots and changes; `Store.save`
decides (with `trialwatch.snapshots.changes.known`) what an observation adds to a timeline,
and `replay` recomputes a timeline's change rows from a point on (a snapshot placed late,
records rebuilt by reparse).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from trialwatch.ingest.record import canonical_json, hash_canonical, upgrade
from trialwatch.snapshots.changes.diff import CHANGE_KEYS, diff_records
from trialwatch.snapshots.changes.known import NOT_COMPARED, fingerprint, merge
from trialwatch.snapshots.store import codec

_SNAPSHOT_INSERT = (
    "INSERT INTO snapshots (nct_id, observed_utc, last_updated, status, source_kind, source_ref, source_version, "
    "module_labels, content_hash, record, codec, base_id, change_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_STORED = "record, codec, base_id, raw, raw_encoding"  # what codec.row_content reads
_NEIGHBOURS = (
    "SELECT * FROM (SELECT 0, id, observed_utc, content_hash FROM snapshots WHERE nct_id = ? AND observed_utc <= ? "
    "ORDER BY observed_utc DESC, id DESC LIMIT 1) "
    "UNION ALL SELECT * FROM (SELECT 1, id, observed_utc, content_hash FROM snapshots WHERE nct_id = ? "
    "AND observed_utc > ? ORDER BY observed_utc, id LIMIT 1)"
)
_KEY_FRAME = (
    "SELECT id FROM snapshots WHERE nct_id = ? AND codec IS NOT NULL AND base_id IS NULL ORDER BY id DESC LIMIT 1"
)
JSON_CHANGE_COLUMNS = ("old", "new", "lines_added", "lines_removed")
FLAG_CHANGE_COLUMNS = ("became_actual", "precision_changed")
# A change row's columns: the snapshot it belongs to, then the change dict's keys (diff.CHANGE_KEYS,
# `observed_at` stored as `observed_utc`).
CHANGE_COLUMNS = ("snapshot_id", "nct_id", "observed_utc", *CHANGE_KEYS[2:])
_CHANGE_INSERT = f"INSERT INTO changes ({', '.join(CHANGE_COLUMNS)}) VALUES ({', '.join('?' for _ in CHANGE_COLUMNS)})"


def change_dict(row: dict) -> dict:
    """A change row (its CHANGE_COLUMNS, and `id`) as the change dict reports use: the keys of
    diff.CHANGE_KEYS, plus snapshot_id and change_id (the row's id)."""
    out = {"nct_id": row["nct_id"], "observed_at": row["observed_utc"]}
    for key in CHANGE_KEYS[2:]:
        value = row[key]
        if value is not None and key in JSON_CHANGE_COLUMNS:
            value = json.loads(value)
        elif value is not None and key in FLAG_CHANGE_COLUMNS:
            value = bool(value)
        out[key] = value
    out.update(snapshot_id=row["snapshot_id"], change_id=row["id"])
    return out


def compared_hash(record: dict) -> str:
    """SHA-256 of the record's compared content: equal hashes, nothing new (a bump of the
    registry's last-update date alone hashes the same)."""
    compared = {key: value for key, value in record.items() if key not in NOT_COMPARED or key == "unknown"}
    return hash_canonical(canonical_json(compared))


@dataclass
class Observation:
    """One observation of a trial, as `Store.save` is given it."""

    record: dict
    observed_utc: str
    source_kind: str
    source_ref: str | None = None
    raw: bytes | None = None
    source_version: int | None = None
    module_labels: list[str] | None = None
    text: str = ""  # the record's canonical JSON, when the caller has it already
    packed: bytes | None = None  # text and raw as a key frame of codec.CURRENT (ingest.packing), if made

    def __post_init__(self) -> None:
        self.nct_id = self.record["nct_id"]
        self.text = self.text or canonical_json(self.record)
        self.digest = compared_hash(self.record)


@dataclass
class Placed:
    """A snapshot on a timeline: its id, when it was observed, its compared-content hash."""

    id: int
    observed_utc: str
    digest: str


class Timelines:
    def __init__(self, db):
        self.db = db
        # Contents (codec.content) of rows read or written lately, by id: a trial's key frame is
        # read again for each delta against it.  Emptied when a transaction rolls back.
        self.cache: dict[int, bytes] = {}

    def neighbours(self, nct_id: str, observed_utc: str) -> tuple[Placed | None, Placed | None]:
        """The snapshots just before (at or before) and just after `observed_utc` (one query)."""
        found: list[Placed | None] = [None, None]
        for side, *placed in self.db.conn.execute(_NEIGHBOURS, [nct_id, observed_utc, nct_id, observed_utc]):
            found[side] = Placed(*placed)
        return found[0], found[1]

    def content(self, snapshot_id: int) -> bytes:
        """A snapshot's stored content (codec.content): its record's canonical JSON and raw input."""
        data = codec.row_content(self.db.conn.execute, snapshot_id, self.cache)
        assert data is not None, f"no snapshot {snapshot_id}"
        return data

    def record(self, snapshot_id: int) -> dict:
        return upgrade(json.loads(codec.split(self.content(snapshot_id))[0]))

    def records(self, nct_id: str, until: str | None = None) -> list[tuple[int, str, dict]]:
        """(id, observed_utc, record) of a trial's snapshots in time order (up to `until`)."""
        rows = self.db.conn.execute(
            f"SELECT id, observed_utc, {_STORED} FROM snapshots WHERE nct_id = ? AND observed_utc <= ? "
            "ORDER BY observed_utc, id",
            [nct_id, until or "9999"],
        ).fetchall()
        out = []
        for sid, observed, *stored in rows:
            data = codec.row_content(self.db.conn.execute, sid, self.cache, row=stored)
            assert data is not None
            out.append((sid, observed, upgrade(json.loads(codec.split(data)[0]))))
        return out

    def insert(self, observation: Observation, changes: list[dict], *, first: bool = False) -> int:
        """A new snapshot (`first`: the trial has none, so it is a key frame) and its change rows."""
        data = codec.content(observation.text, observation.raw)
        if first and observation.packed is not None:
            frame, base_id = observation.packed, None
        elif first:
            frame, base_id = codec.key_frame(data), None
        else:
            frame, base_id = self._encode(observation.nct_id, data)
        labels = observation.module_labels
        record = observation.record
        snapshot_id = self.db.conn.execute(
            _SNAPSHOT_INSERT,
            (
                observation.nct_id,
                observation.observed_utc,
                record.get("last_updated"),
                record.get("status"),
                observation.source_kind,
                observation.source_ref,
                observation.source_version,
                json.dumps(labels) if labels is not None else None,
                observation.digest,
                frame,
                codec.CURRENT,
                base_id,
                len(changes),
            ),
        ).lastrowid
        assert snapshot_id is not None  # an INSERT into a rowid table
        if len(self.cache) >= codec.CACHE_ROWS:  # bounded: a bulk import inserts row after row
            self.cache.clear()
        self.cache[snapshot_id] = data
        self.insert_changes(snapshot_id, observation.nct_id, observation.observed_utc, changes)
        return snapshot_id

    def _encode(self, nct_id: str, data: bytes) -> tuple[bytes, int | None]:
        """A new snapshot's frame: a delta against the trial's newest key frame, or a key frame."""
        row = self.db.conn.execute(_KEY_FRAME, [nct_id]).fetchone()
        base = self.content(row[0]) if row else None
        frame, is_delta = codec.encode(data, base)
        return frame, (row[0] if is_delta else None)

    def insert_changes(self, snapshot_id: int, nct_id: str, observed_utc: str, changes: list[dict]) -> None:
        for change in changes:
            row = {**change, "snapshot_id": snapshot_id, "nct_id": nct_id, "observed_utc": observed_utc}
            for column in JSON_CHANGE_COLUMNS:
                if row[column] is not None:
                    row[column] = json.dumps(row[column], ensure_ascii=False, sort_keys=True)
            for column in FLAG_CHANGE_COLUMNS:
                if row[column] is not None:
                    row[column] = int(row[column])
            self.db.conn.execute(_CHANGE_INSERT, [row[column] for column in CHANGE_COLUMNS])

    def move_earlier(self, snapshot_id: int, observed_utc: str) -> None:
        """A stored state seen earlier than we knew: it began at `observed_utc`."""
        execute = self.db.conn.execute
        execute("UPDATE snapshots SET observed_utc = ? WHERE id = ?", [observed_utc, snapshot_id])
        execute("UPDATE changes SET observed_utc = ? WHERE snapshot_id = ?", [observed_utc, snapshot_id])

    def replace_changes(self, snapshot_id: int, nct_id: str, observed_utc: str, changes: list[dict]) -> None:
        self.db.conn.execute("DELETE FROM changes WHERE snapshot_id = ?", [snapshot_id])
        self.insert_changes(snapshot_id, nct_id, observed_utc, changes)
        self.db.conn.execute("UPDATE snapshots SET change_count = ? WHERE id = ?", [len(changes), snapshot_id])

    def rewrite_records(self, nct_id: str, records: dict[int, dict]) -> None:
        """Replace some of a trial's records (snapshot id → record), keeping their raw inputs, and
        store the trial's snapshots anew: its oldest a key frame, the others deltas where they pay."""
        rows = self.db.conn.execute(
            f"SELECT id, {_STORED} FROM snapshots WHERE nct_id = ? ORDER BY observed_utc, id", [nct_id]
        ).fetchall()
        contents: dict[int, bytes] = {}
        for sid, *stored in rows:
            data = codec.row_content(self.db.conn.execute, sid, self.cache, row=stored)
            assert data is not None
            contents[sid] = data
        self.cache.clear()
        key_id, key = None, None
        for sid, *_ in rows:
            data = contents[sid]
            if sid in records:
                data = codec.content(canonical_json(records[sid]), codec.split(data)[1])
            frame, is_delta = codec.encode(data, key)
            if not is_delta:
                key_id, key = sid, data
            base_id = key_id if is_delta else None
            execute = self.db.conn.execute
            execute(
                "UPDATE snapshots SET record = ?, codec = ?, base_id = ?, raw = NULL, raw_encoding = NULL WHERE id = ?",
                [frame, codec.CURRENT, base_id, sid],
            )
            if sid in records:
                record = records[sid]
                execute(
                    "UPDATE snapshots SET content_hash = ?, status = ?, last_updated = ? WHERE id = ?",
                    [compared_hash(record), record.get("status"), record.get("last_updated"), sid],
                )

    def replay(self, nct_id: str) -> dict | None:
        """Recompute every change row of a trial from its records, oldest first; returns the known state."""
        known = None
        for snapshot_id, observed_utc, record in self.records(nct_id):
            changes: list[dict] = diff_records(known, record) if known is not None else []
            self.replace_changes(snapshot_id, nct_id, observed_utc, changes)
            known = merge(known, record)
        return known

    def known_before(self, nct_id: str, observed_utc: str) -> dict | None:
        """The trial as known from its snapshots observed at or before `observed_utc`."""
        known = None
        for _, _, record in self.records(nct_id, until=observed_utc):
            known = merge(known, record)
        return known


def adds_to(known: dict | None, record: dict) -> tuple[list[dict], dict, bool]:
    """What `record` adds to a timeline whose known state is `known`: (changes, the known state
    after it, whether it changes what is known — a change, or a field known for the first time)."""
    if known is None:
        return [], merge(None, record), True
    changes = diff_records(known, record)
    after = merge(known, record)
    return changes, after, bool(changes) or fingerprint(after) != fingerprint(known)
