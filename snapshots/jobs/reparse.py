"""Rebuild stored records from their raw inputs, when the parser or the mapping has improved.

Each snapshot keeps the input it was made from.  `reparse` runs the current parser over those
inputs and has the store rewrite the records, their hashes and the trial's change rows, so the
next snapshot compares against what today's parser makes of yesterday's page: no burst of
"added" changes after an upgrade.  One transaction per trial.

`parse(raw, snapshot)` comes from ingest (`trialwatch.ingest.parse.reparse_input`): this module knows no
parser and no HTTP.  It returns the record, or raises InputError, in which case the snapshot
keeps its record and the error is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from trialwatch.ingest.errors import InputError
from trialwatch.snapshots.jobs.findings import refresh as refresh_findings


@dataclass
class ReparseResult:
    trials: int = 0
    snapshots: int = 0
    records_changed: int = 0
    errors: list[str] = field(default_factory=list)


def reparse(store, parse: Callable[[bytes, dict], dict], nct_ids=None, progress=None) -> ReparseResult:
    """Re-make the records of these trials (all when None) from their stored raw inputs."""
    if nct_ids is None:
        nct_ids = store.trial_ids()
    result = ReparseResult()

    def remake(snapshot: dict) -> dict:
        result.snapshots += 1
        if snapshot["raw"] is None:
            return snapshot["record"]
        try:
            return parse(snapshot["raw"], snapshot)
        except InputError as error:
            result.errors.append(f"{snapshot['nct_id']} snapshot {snapshot['id']}: {error}")
            return snapshot["record"]

    for nct_id in nct_ids:
        result.records_changed += store.rewrite_records(nct_id, remake)
        result.trials += 1
        if progress:
            progress(nct_id)
    refresh_findings(store, nct_ids)
    return result
