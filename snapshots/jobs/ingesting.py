"""`trialwatch ingest`: store what the sources yield, several trials per transaction, and count it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from trialwatch.ingest.parse import Failed, Parsed
from trialwatch.snapshots.jobs.findings import refresh as refresh_findings
from trialwatch.snapshots.store.outcomes import FAILED, OUTCOMES


def ingest(
    store,
    items: Iterable[Parsed | Failed],
    *,
    observed_utc: str | None = None,
    on_failed: Callable[[Failed], None] | None = None,
    on_warning: Callable[[Parsed, str], None] | None = None,
    findings: bool = True,
) -> Counter:
    """Save every parsed item and record every failed one; returns the count of each check outcome.

    When an item was observed: what was fetched just now, now; a saved input, `observed_utc`
    when given; otherwise now, unless its registry date is older than the newest the trial has
    shown (an old saved page ingested late): then at its registry date, and `on_warning` says so.
    With `findings`, the touched trials' findings are refreshed after (bulk work leaves them to
    `trialwatch findings --refresh`: about 1 ms and 6 KiB a trial).
    """
    counts: Counter = Counter(dict.fromkeys(OUTCOMES, 0))
    touched: list[str] = []
    with store.bulk():  # a few hundred trials or about a second per commit; each trial whole
        for item in items:
            nct_id = _take(store, item, counts, observed_utc, on_failed, on_warning)
            if nct_id:
                touched.append(nct_id)
    if findings:  # the trials' findings, from their timelines as they now are
        refresh_findings(store, touched)
    return counts


def _take(store, item, counts: Counter, observed_utc, on_failed, on_warning) -> str | None:
    """Store one item; the NCT id of the trial it saved, None for a failure."""
    if isinstance(item, Failed):
        store.record_failure(item.nct_id, source_kind=item.source_kind, source_ref=item.source_ref, error=item.error)
        counts[FAILED] += 1
        if on_failed:
            on_failed(item)
        return None
    for warning in item.warnings:
        if on_warning:
            on_warning(item, warning)
    when = None if item.fetched else observed_utc or _stale_placement(store, item, on_warning)
    saved = store.save(
        item.record,
        observed_utc=when,
        source_kind=item.source_kind,
        source_ref=item.source_ref,
        raw=item.raw,
        warnings=item.warnings,
        record_text=item.text,
        packed=item.packed,
    )
    counts[saved.outcome] += 1
    return saved.nct_id


def _stale_placement(store, item: Parsed, on_warning) -> str | None:
    """Where an undated saved input goes: at its registry date when that is older than the newest
    registry date of the trial (a reversal recorded as news otherwise); None (now) otherwise."""
    registry_date = item.record.get("last_updated")
    newest = store.newest_registry_date(item.record["nct_id"])
    if not registry_date or not newest or registry_date >= newest:
        return None
    if on_warning:
        on_warning(
            item,
            f"registry date {registry_date} is older than this trial's newest ({newest}): placed at "
            f"{registry_date} on the timeline, not now (give --observed-at to place it yourself)",
        )
    return f"{registry_date}T00:00:00+00:00"


def summary(counts: Counter) -> str:
    """`3 checked: 1 new, 1 changed, 1 unchanged, 0 failed`."""
    parts = ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES)
    return f"{sum(counts.values())} checked: {parts}"
