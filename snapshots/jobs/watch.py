"""Watching trials: the watchlist itself is stored by `Store.watchlist`; this adds what a
`watch add` does beyond storing, the registry history of the trials it names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from trialwatch.snapshots.jobs.backfill import BackfillResult, backfill_watched


@dataclass
class Watched:
    """What `watch_trials` did: the ids newly watched, those watched before, and the backfills."""

    added: list[str]
    already: list[str]
    backfills: list[BackfillResult] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [message for result in self.backfills for _, message in result.failed]


def watch_trials(
    store, nct_ids, *, note=None, backfill=False, history=None, progress: Callable[[str, int, int], None] | None = None
) -> Watched:
    """Watch these trials; with `backfill` (and a `history` source), fetch the registry history
    of these trials now, and of no other: a trial whose backfill fails keeps waiting for the next run."""
    nct_ids = list(dict.fromkeys(nct_ids))
    added = store.watchlist.add(nct_ids, note=note, backfill=backfill)
    done = Watched(added, [n for n in nct_ids if n not in added])
    if backfill and history is not None:
        done.backfills = backfill_watched(store, history, nct_ids, progress=progress)
    return done
