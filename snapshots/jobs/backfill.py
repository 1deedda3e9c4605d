"""Backfill a trial's timeline from the registry's own version history.

ClinicalTrials.gov keeps every version of a record since registration.  Each version becomes
an observation dated by the registry (that day at 00:00:00 UTC) and goes through
`Store.save`, so it lands on the same timeline as the tool's own snapshots: a snapshot only
where the record differs from its neighbours, change rows exactly as between any two
snapshots, one transaction per version.

Every version fetched is a check ("ctgov history", with its version number), stored or found
equal to a neighbour; the versions a trial has are those with such a check, so a second
backfill asks only for the version list and the versions it lacks.

Each trial's history index (the version list, with the registry's first-registered outcomes
and enrollment) is kept in `trial_history` and `history_versions` as it is read.

Registry dates: a version's `date` is its *submission* (QC) date, a few days before the version
was public; the snapshot is placed there, and keeps the public posting date the record carries
(`last_updated`, `lastUpdatePostDateStruct`).

`source` is an object from `ingest` (`trialwatch.ingest.registry.HistorySource`): `index(nct_id)`,
`version(nct_id, n)`, `list_ref(nct_id)`, `version_ref(nct_id, n)`.  Nothing here knows HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from trialwatch.ingest.errors import FetchError, InputError
from trialwatch.ingest.parse import HISTORY as SOURCE_KIND
from trialwatch.snapshots.jobs.findings import refresh as refresh_findings
from trialwatch.snapshots.store.outcomes import CHANGED, FAILED, NEW, UNCHANGED


@dataclass
class BackfillResult:
    """What a backfill did for one trial.

    `listed`: the registry's version numbers; `wanted`: those chosen (all, or the first, the
    last and those touching `modules`); `had`: wanted versions already checked before;
    `fetched`: version → outcome of its save (new, changed, unchanged); `failed`: (version or
    None for the list, message); `unmatched_modules`: names given in `modules` that no
    version's module labels match; `labels`: every module label the list shows.
    """

    nct_id: str
    listed: list[int] = field(default_factory=list)
    wanted: list[int] = field(default_factory=list)
    had: list[int] = field(default_factory=list)
    fetched: dict[int, str] = field(default_factory=dict)
    failed: list[tuple[int | None, str]] = field(default_factory=list)
    unmatched_modules: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.fetched.values() if value == outcome)


@dataclass
class BackfillPlan:
    """One trial's listed versions and those still to fetch (`todo`: version-list entries)."""

    result: BackfillResult
    todo: list[dict] = field(default_factory=list)


def parse_modules(text: str | None) -> list[str] | None:
    """`"Study Status, Outcome Measures"` → the names; None for no filter.  Empty → InputError."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise InputError('--modules: name at least one section, e.g. "Study Status,Outcome Measures"')
    return list(dict.fromkeys(names))


def observed_at(entries: list[dict]) -> dict[int, str]:
    """Version → observed_utc: its registry date at 00:00:00 UTC.  Versions dated the same day
    are a second apart, in version order, so the timeline keeps their order however they arrive."""
    out: dict[int, str] = {}
    seen: dict[str, int] = {}
    for entry in sorted(entries, key=lambda e: e["version"]):
        nth = seen.get(entry["date"], 0)
        seen[entry["date"]] = nth + 1
        midnight = datetime.fromisoformat(entry["date"]).replace(tzinfo=timezone.utc)
        out[entry["version"]] = (midnight + timedelta(seconds=nth)).isoformat()
    return out


def choose(entries: list[dict], modules: list[str] | None) -> tuple[list[dict], list[str]]:
    """The versions to have: all, or with `modules` the first, the last and those whose module
    labels include a named section (case-insensitive); and the names no version's labels match."""
    if modules is None:
        return list(entries), []
    wanted = {name.casefold() for name in modules}
    seen = {label.casefold() for entry in entries for label in entry["moduleLabels"]}
    unmatched = [name for name in modules if name.casefold() not in seen]
    if not entries:
        return [], unmatched
    ends = {entries[0]["version"], entries[-1]["version"]}
    chosen = [
        entry
        for entry in entries
        if entry["version"] in ends or wanted & {label.casefold() for label in entry["moduleLabels"]}
    ]
    return chosen, unmatched


def plan(store, source, nct_id: str, modules: list[str] | None = None) -> BackfillPlan:
    """Read one trial's history index (one request), keep it (`store.registry_history`: first-
    registered values, each version's registry date and labels) and choose the versions the
    trial lacks.  An index that cannot be had is a failed check and a plan with nothing to do."""
    result = BackfillResult(nct_id)
    try:
        index = source.index(nct_id)
    except (FetchError, InputError) as error:
        store.record_failure(nct_id, source_kind=SOURCE_KIND, source_ref=source.list_ref(nct_id), error=str(error))
        result.failed.append((None, str(error)))
        return BackfillPlan(result)
    store.registry_history.save(index, source_ref=source.list_ref(nct_id))
    entries = index.versions
    chosen, result.unmatched_modules = choose(entries, modules)
    have = store.versions_had(nct_id, SOURCE_KIND)
    result.listed = [entry["version"] for entry in entries]
    result.wanted = [entry["version"] for entry in chosen]
    result.had = [number for number in result.wanted if number in have]
    result.labels = sorted({label for entry in entries for label in entry["moduleLabels"]}, key=str.casefold)
    when = observed_at(entries)
    todo = [{**entry, "observed_utc": when[entry["version"]]} for entry in chosen if entry["version"] not in have]
    return BackfillPlan(result, todo)


def fetch(store, source, plans: list[BackfillPlan]) -> Iterator[tuple[str, int, str]]:
    """Fetch and store the planned versions, oldest first per trial, one transaction each;
    yields (nct_id, version, outcome) per version (outcome "failed" for one that could not be had)."""
    for item in plans:
        result = item.result
        for entry in item.todo:
            number = entry["version"]
            try:
                parsed = source.version(result.nct_id, number)
            except (FetchError, InputError) as error:
                store.record_failure(
                    result.nct_id,
                    source_kind=SOURCE_KIND,
                    source_version=number,
                    source_ref=source.version_ref(result.nct_id, number),
                    error=str(error),
                )
                result.failed.append((number, str(error)))
                yield result.nct_id, number, FAILED
                continue
            saved = store.save(
                parsed.record,
                observed_utc=entry["observed_utc"],
                source_kind=SOURCE_KIND,
                source_ref=parsed.source_ref,
                raw=parsed.raw,
                source_version=number,
                module_labels=entry["moduleLabels"],
            )
            result.fetched[number] = saved.outcome
            yield result.nct_id, number, saved.outcome


def backfill_many(
    store,
    source,
    nct_ids,
    modules: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[BackfillResult]:
    """Backfill several trials: every version list first (one request each), then the versions
    they lack.  `progress(phase, done, total)` as the work goes ("Listing versions" per trial,
    then "Fetching versions" per version).  A trial that fails is recorded and the others go
    on.  One result per distinct id, in order."""
    ids = list(dict.fromkeys(nct_ids))
    plans = []
    for done, nct_id in enumerate(ids, 1):
        plans.append(plan(store, source, nct_id, modules))
        if progress:
            progress("Listing versions", done, len(ids))
    total = sum(len(item.todo) for item in plans)
    for done, _ in enumerate(fetch(store, source, plans), 1):
        if progress:
            progress("Fetching versions", done, total)
    refresh_findings(store, [item.result.nct_id for item in plans if item.result.fetched])
    return [item.result for item in plans]


def unmatched_modules(results: list[BackfillResult], modules: list[str] | None) -> list[str]:
    """One warning per `--modules` name that no listed version's sections match."""
    listed = [result for result in results if result.listed]
    warnings = []
    for name in modules or ():
        if listed and all(name in result.unmatched_modules for result in listed):
            labels = sorted({label for result in listed for label in result.labels}, key=str.casefold)
            warnings.append(f"--modules {name!r} matches no version's sections (sections seen: {', '.join(labels)})")
    return warnings


def summary(results: list[BackfillResult]) -> str:
    """`2 trials: 9 versions fetched (3 new, 4 changed, 2 unchanged), 1 already stored, 0 failed`."""
    count = {outcome: sum(result.count(outcome) for result in results) for outcome in (NEW, CHANGED, UNCHANGED)}
    failed = sum(len(result.failed) for result in results)
    return (
        f"{len(results)} trial{'s' if len(results) != 1 else ''}: {sum(count.values())} versions fetched "
        f"({count[NEW]} new, {count[CHANGED]} changed, {count[UNCHANGED]} unchanged), "
        f"{sum(len(result.had) for result in results)} already stored, {failed} failed"
    )


def backfill(
    store,
    source,
    nct_id: str,
    modules: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BackfillResult:
    """Backfill one trial (see `backfill_many`)."""
    return backfill_many(store, source, [nct_id], modules, progress)[0]


def backfill_watched(
    store, source, nct_ids=None, progress: Callable[[str, int, int], None] | None = None
) -> list[BackfillResult]:
    """Backfill the watched trials waiting for it (only these ids, when given); those that
    succeed stop waiting.  Another trial's pending backfill is not touched by a call that names ids."""
    results = backfill_many(store, source, store.watchlist.waiting_for_backfill(nct_ids), progress=progress)
    for result in results:
        if result.ok:
            store.watchlist.backfilled(result.nct_id)
    return results
