"""Rebuild stored records from their raw inputs, when the parser or the mapping has improved.

Each snapshot keeps the input it was made from.  `reparse` runs the current parser over those
inputs, rewrites the records and their hashes, and recomputes the trial's change rows, so the
next snapshot compares against what today's parser makes of yesterday's page: no burst of
"added" changes after an upgrade.  One transaction per trial.

`parse(raw, snapshot)` comes from ingest (`ingest.sources.reparse_input`): this module knows no
parser and no HTTP.  It returns the record, or raises InputError, in which case the snapshot
keeps its record and the error is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from ingest.errors import InputError
from ingest.record import canonical_json, hash_canonical

from .diff import diff_records
from .store import decode_raw


@dataclass
class ReparseResult:
    trials: int = 0
    snapshots: int = 0
    records_changed: int = 0
    errors: list[str] = field(default_factory=list)


def reparse(store, parse: Callable[[bytes, dict], dict], nct_ids=None, progress=None) -> ReparseResult:
    """Re-make the records of these trials (all when None) from their stored raw inputs."""
    db = store.db
    if nct_ids is None:
        nct_ids = [row[0] for row in db.execute("SELECT nct_id FROM trials ORDER BY nct_id")]
    result = ReparseResult()
    for nct_id in nct_ids:
        _reparse_trial(store, parse, nct_id, result)
        result.trials += 1
        if progress:
            progress(nct_id)
    return result


def _reparse_trial(store, parse, nct_id: str, result: ReparseResult) -> None:
    db = store.db
    with db.atomic():
        rows = list(db.query(
            "SELECT id, nct_id, observed_utc, source_kind, source_ref, raw, raw_encoding, record, content_hash "
            "FROM snapshots WHERE nct_id = ? ORDER BY observed_utc, id", [nct_id]))
        previous = None
        for row in rows:
            record = json.loads(row["record"])
            if row["raw"] is not None:
                try:
                    record = parse(decode_raw(row["raw"], row["raw_encoding"]), row)
                except InputError as error:
                    result.errors.append(f"{nct_id} snapshot {row['id']}: {error}")
            text = canonical_json(record)
            digest = hash_canonical(text)
            if digest != row["content_hash"]:
                result.records_changed += 1
            changes = diff_records(previous, record) if previous is not None else []
            db.execute("UPDATE snapshots SET record = ?, content_hash = ?, status = ?, last_updated = ?, change_count = ? "
                       "WHERE id = ?", [text, digest, record.get("status"), record.get("last_updated"), len(changes), row["id"]])
            db.execute("DELETE FROM changes WHERE snapshot_id = ?", [row["id"]])
            store._insert_changes(row["id"], row["observed_utc"], changes)
            previous = record
            result.snapshots += 1
        checked = db.execute("SELECT last_checked_utc FROM trials WHERE nct_id = ?", [nct_id]).fetchone()
        store._refresh_trial(nct_id, checked[0] if checked else None)
