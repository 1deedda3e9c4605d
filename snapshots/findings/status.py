"""Stale status, and why a trial stopped.

- **stale_status**: a trial recruiting, not yet recruiting, enrolling by invitation or active
  whose status was not verified for 2 years (`statusVerifiedDate`; a month is read as its last
  day), a trial the registry itself marks UNKNOWN (its own 2-year rule), or one whose record
  said COMPLETED more than 30 days after its actual completion date (42 CFR 11.64's update
  duty; Jones et al., BMJ Open 2017 measured the lag).
- **stopped_reason_class**: a terminated, suspended or withdrawn trial's `whyStopped`, classed
  by the keyword rules in `stopped_reasons.json` (shipped with trialwatch: data, not code).
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date
from pathlib import Path

from trialwatch.ingest.parse import HISTORY
from trialwatch.snapshots.findings.dating import add_years, iso, last_day
from trialwatch.snapshots.findings.model import Finding
from trialwatch.snapshots.findings.timeline import Timeline, Version

ONGOING = ("NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE_NOT_RECRUITING")
STOPPED = ("TERMINATED", "SUSPENDED", "WITHDRAWN")
VERIFY_EVERY_YEARS = 2
UPDATE_DUTY_DAYS = 30
REASONS_FILE = Path(__file__).with_name("stopped_reasons.json")


def _verification(t: Timeline, on: date) -> dict | None:
    """An ongoing status not verified for 2 years on `on`: the facts, or None."""
    current = t.current
    verified = last_day(current.get("status_verified")) if t.last.knows("status_verified") else None
    if current.get("status") not in ONGOING or verified is None:
        return None
    stale_after = add_years(verified, VERIFY_EVERY_YEARS)
    later_update = t.newest_update and t.newest_update > (current.get("last_updated") or "")
    return {
        "status": current.get("status"),
        "status_verified": current.get("status_verified"),
        "stale_after": iso(stale_after),
        "stale": on > stale_after,
        "days_since_verified": (on - verified).days,
        # The registry updated the record later without a change trialwatch keeps a snapshot for:
        # its verification date then is not stored, and may be newer.
        "newer_update_not_stored": bool(later_update),
    }


def _completion_lag(t: Timeline) -> tuple[dict, Version] | None:
    """The lag between an actual completion date and the first version showing COMPLETED, and
    that version.  Measured only where the timeline shows the change (a version before it with
    another status); when the first snapshot already says COMPLETED, `seen_change` is false."""
    completion = t.current.get("completion_date")
    if t.current.get("status") != "COMPLETED" or not isinstance(completion, dict):
        return None
    ended = last_day(completion.get("date"))
    if completion.get("type") != "ACTUAL" or ended is None:
        return None
    index = len(t.versions) - 1
    while index > 0 and t.versions[index - 1].get("status") in ("COMPLETED", None):
        index -= 1
    shown = t.versions[index]
    lag = (shown.date - ended).days
    seen = index > 0
    facts = {
        "completion_date": completion["date"],
        "first_completed_version": shown.label,
        "shown_on": shown.date.isoformat(),
        "lag_days": lag if seen else None,
        "lag_at_most_days": lag,
        "seen_change": seen,
        # exact when it and the version before it (another status) are registry versions; else at most
        "exact": seen and _both_registry(t.versions[index - 1], shown),
        "late": lag > UPDATE_DUTY_DAYS if seen else None,
    }
    return facts, shown


def _both_registry(before: Version, shown: Version) -> bool:
    return before.get("status") not in (None, "COMPLETED") and before.source_kind == shown.source_kind == HISTORY


def stale_status(t: Timeline, on: date) -> Finding:
    finding = Finding(t.nct_id, "stale_status", False, evidence=[t.last.evidence("current record")])
    status = t.current.get("status") if t.last.knows("status") else None
    verification, lag = _verification(t, on), _completion_lag(t)
    finding.value = {"status": status, "verification": verification, "completion": lag[0] if lag else None}
    if status == "UNKNOWN":
        finding.holds, finding.cls = True, "registry_unknown"
        finding.summary = f"the registry marks the status UNKNOWN (last known: {t.current.get('last_known_status')}, verified {t.current.get('status_verified')})"
        finding.value["last_known_status"] = t.current.get("last_known_status")
    elif verification and verification["stale"]:
        finding.holds, finding.cls, finding.days = True, "not_verified_2y", verification["days_since_verified"]
        finding.complete = not verification["newer_update_not_stored"]
        finding.summary = (
            f"{status}, last verified {verification['status_verified']}: {verification['days_since_verified']} days ago"
        )
    elif lag:
        facts, shown = lag
        finding.holds, finding.days = facts["late"], facts["lag_days"]
        finding.complete = facts["exact"]
        finding.cls = {True: "completion_reported_late", False: "completion_reported"}.get(
            facts["late"], "completed_before_history"
        )
        finding.summary = (
            f"completed {facts['completion_date']}; first shown COMPLETED {facts['shown_on']} ({facts['first_completed_version']})"
            + (
                f": {'' if facts['exact'] else 'at most '}{facts['lag_days']} days later"
                if facts["seen_change"]
                else ", the first snapshot: the change is not in the timeline"
            )
        )
        finding.evidence.insert(0, shown.evidence("first shown COMPLETED"))
    elif status is None:
        finding.holds, finding.cls, finding.summary = None, "unknown", "the source does not show the status"
    else:
        finding.cls = "current"
        finding.summary = f"{status}" + (f", verified {verification['status_verified']}" if verification else "")
    return finding


# -- why a trial stopped ---------------------------------------------------------------------


@functools.cache
def reason_rules() -> dict:
    """The shipped rules, compiled: {boilerplate, negations, window, classes: [(class, label, [regex])]}."""
    data = json.loads(REASONS_FILE.read_text(encoding="utf-8"))
    return {
        "boilerplate": [_words(text) for text in data["boilerplate"]],
        "negations": [_words(cue) for cue in data["negations"]],
        "window": int(data["negation_window_words"]),
        "classes": [
            (c["class"], c["label"], [re.compile(rf"\b(?:{p})", re.IGNORECASE) for p in c["patterns"]])
            for c in data["classes"]
        ],
    }


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.casefold()))


def _negated(clause: str, start: int, rules: dict) -> bool:
    """Whether a negation cue stands in the `window` words before position `start` of the clause."""
    before = _words(clause[:start]).split()[-rules["window"] :]
    text = " " + " ".join(before) + " "
    return any(f" {cue} " in text for cue in rules["negations"])


def classify_reason(text: str | None) -> dict:
    """{class, classes, matches}: the classes whose rules match, first in the rules' order."""
    rules = reason_rules()
    words = _words(text or "")
    if not words or any(words == stock or words == stock.rstrip(".") for stock in rules["boilerplate"]):
        return {"class": "not_given", "classes": [], "matches": []}
    matches, classes = [], []
    for clause in re.split(r"[.;:,()]|\bbut\b", text or "", flags=re.IGNORECASE):
        for name, _, patterns in rules["classes"]:
            for pattern in patterns:
                for hit in pattern.finditer(clause):
                    negated = _negated(clause, hit.start(), rules)
                    matches.append(
                        {"class": name, "pattern": pattern.pattern, "text": hit.group(0), "negated": negated}
                    )
                    if not negated and name not in classes:
                        classes.append(name)
    order = [name for name, _, _ in rules["classes"]]
    classes.sort(key=order.index)
    return {"class": classes[0] if classes else "other", "classes": classes, "matches": matches}


def stopped_reason_class(t: Timeline) -> Finding:
    status = t.current.get("status") if t.last.knows("status") else None
    finding = Finding(t.nct_id, "stopped_reason_class", False, evidence=[t.last.evidence("current record")])
    if status not in STOPPED:
        finding.holds = None if status is None else False
        finding.cls, finding.summary = (
            ("unknown", "status not shown") if status is None else (None, f"not stopped ({status})")
        )
        return finding
    why = t.current.get("why_stopped") if t.last.knows("why_stopped") else None
    result = classify_reason(why)
    finding.holds, finding.cls = True, result["class"]
    finding.value = {"status": status, "why_stopped": why, **result}
    shown = f": {why!r}" if why else " (no reason given)"
    finding.summary = f"{status.lower()}, {result['class'].replace('_', ' ')}{shown}"
    return finding
