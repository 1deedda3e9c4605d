"""Findings from the store: evaluate a trial's timeline, keep the findings table current, and
say which findings newly hold (news for `trialwatch run`).

A trial's stored findings are current when they were evaluated from its timeline as it is
(the digest of its snapshots) on the day asked for.  Jobs that change timelines (ingest,
backfill, reparse, run) refresh the trials they touched when they finish; `trialwatch run`
also re-evaluates every watched trial once a day, since results fall due and verification
goes stale with time alone.  Reading (`findings`) never writes: a trial whose stored findings
are not current is evaluated afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from trialwatch.snapshots.changes.dates import now_utc
from trialwatch.snapshots.findings.definitions import BY_NAME, headline, news_severity
from trialwatch.snapshots.findings.evaluate import evaluate
from trialwatch.snapshots.findings.progress import SHORTFALL_BELOW
from trialwatch.snapshots.findings.timeline import Timeline, build


def today() -> date:
    return date.fromisoformat(now_utc()[:10])


def timeline_of(store, nct_id: str, until: str | None = None) -> Timeline | None:
    """The trial's timeline (up to the instant `until`), or None without snapshots."""
    rows = store.findings.timeline(nct_id, until)
    if not rows:
        return None
    checked, newest = store.findings.trial_checks(nct_id, until)
    return build(nct_id, rows, checked_until=checked, newest_update=newest)


def compute(
    store, nct_id: str, on: date, *, until: str | None = None, shortfall_below: float = SHORTFALL_BELOW
) -> list[dict]:
    """Every finding of one trial, evaluated afresh (nothing written)."""
    timeline = timeline_of(store, nct_id, until)
    if timeline is None:
        return []
    return [finding.as_dict() for finding in evaluate(timeline, on, shortfall_below=shortfall_below)]


def trial_findings(
    store,
    nct_ids: Iterable[str],
    *,
    on: date | None = None,
    until: str | None = None,
    shortfall_below: float = SHORTFALL_BELOW,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """The findings of these trials, today's stored ones where they are current, the others
    evaluated afresh; with `on` (another day), `until` or another threshold, all afresh."""
    day = on or today()
    fresh_only = day != today() or until is not None or shortfall_below != SHORTFALL_BELOW
    out: list[dict] = []
    for nct_id in nct_ids:
        if not fresh_only and store.findings.evaluated(nct_id) == (store.findings.digest(nct_id), day.isoformat()):
            out.extend(store.findings.stored(nct_id))
        else:
            out.extend(compute(store, nct_id, day, until=until, shortfall_below=shortfall_below))
        if progress:
            progress(nct_id)
    return out


BATCH = 200  # trials re-evaluated per transaction


def refresh(store, nct_ids: Iterable[str] | None = None, *, on: date | None = None) -> int:
    """Re-evaluate the stored findings of these trials (every trial when None) that are not
    current (another timeline, or another day); returns how many trials were evaluated."""
    day = on or today()
    ids = list(dict.fromkeys(store.trial_ids() if nct_ids is None else nct_ids))
    evaluated = 0
    for start in range(0, len(ids), BATCH):
        with store.findings.batch():
            for nct_id in ids[start : start + BATCH]:
                evaluated += _refresh_one(store, nct_id, day)
    return evaluated


def _refresh_one(store, nct_id: str, day: date) -> bool:
    digest = store.findings.digest(nct_id)
    if store.findings.evaluated(nct_id) == (digest, day.isoformat()):
        return False
    timeline = timeline_of(store, nct_id)
    if timeline is None:
        return False
    findings = [finding.as_dict() for finding in evaluate(timeline, day)]
    store.findings.replace(nct_id, findings, digest, findings[0]["as_of"])
    return True


def news_since(store, before: dict[str, set[tuple[str, str | None]]]) -> list[dict]:
    """The findings that hold now and did not in `before` (`store.findings.holding()` taken
    earlier), for the trials evaluated then: a trial evaluated for the first time since has no
    news, its findings are its baseline."""
    news: list[dict] = []
    for nct_id in sorted(before):
        news.extend(newly_holding(before[nct_id], store.findings.stored(nct_id)))
    return news


def newly_holding(before: set[tuple[str, str | None]], findings: list[dict]) -> list[dict]:
    """The findings that hold now and did not before (or, where a class is news, not in this class)."""
    held = {name for name, _ in before}
    out = []
    for finding in findings:
        name, cls = finding["finding"], finding["class"]
        if not finding["holds"] or cls in BY_NAME[name].not_news:
            continue
        if name in held and not (BY_NAME[name].classes_are_news and (name, cls) not in before):
            continue
        out.append(news_item(finding))
    return out


def news_item(finding: dict) -> dict:
    name, cls = finding["finding"], finding["class"]
    title = headline(name, cls)
    timing = (finding.get("value") or {}).get("timing") if name == "primary_outcome_changed" else None
    if timing:
        title = f"{BY_NAME[name].news} {timing.replace('_', ' ')} ({cls})"
    return {
        "nct_id": finding["nct_id"],
        "finding": name,
        "class": cls,
        "severity": news_severity(name, cls),
        "headline": title,
        "summary": finding["summary"],
        "days": finding["days"],
        "percent": finding["percent"],
    }
