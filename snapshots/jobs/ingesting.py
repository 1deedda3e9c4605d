"""`trialwatch ingest`: store what the sources yield, one transaction per trial, and count it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from trialwatch.ingest.parse import Failed, Parsed
from trialwatch.snapshots.store.outcomes import FAILED, OUTCOMES


def ingest(
    store,
    items: Iterable[Parsed | Failed],
    *,
    observed_utc: str | None = None,
    on_failed: Callable[[Failed], None] | None = None,
    on_warning: Callable[[Parsed, str], None] | None = None,
) -> Counter:
    """Save every parsed item (observed at `observed_utc`, or now for what was fetched just now)
    and record every failed one; returns the count of each check outcome."""
    counts: Counter = Counter(dict.fromkeys(OUTCOMES, 0))
    for item in items:
        if isinstance(item, Failed):
            store.record_failure(
                item.nct_id, source_kind=item.source_kind, source_ref=item.source_ref, error=item.error
            )
            counts[FAILED] += 1
            if on_failed:
                on_failed(item)
            continue
        for warning in item.warnings:
            if on_warning:
                on_warning(item, warning)
        saved = store.save(
            item.record,
            observed_utc=None if item.fetched else observed_utc,
            source_kind=item.source_kind,
            source_ref=item.source_ref,
            raw=item.raw,
            warnings=item.warnings,
        )
        counts[saved.outcome] += 1
    return counts


def summary(counts: Counter) -> str:
    """`3 checked: 1 new, 1 changed, 1 unchanged, 0 failed`."""
    parts = ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES)
    return f"{sum(counts.values())} checked: {parts}"
