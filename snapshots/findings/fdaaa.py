"""Results due, overdue and late under FDAAA 801, as FDAAA TrialsTracker operationalises it
(DeVito, Bacon & Goldacre, Lancet 2020; 42 CFR Part 11), and the plain 12/24-month rule.

Applicable (all must hold): interventional; an FDA-regulated product: the record's flags
decide when it has them (either true), else (records from before the Final Rule) a drug,
biological, device, combination product, genetic, radiation or diagnostic-test intervention
and a site in the United States; phase 1/2, 2, 2/3, 3, 4 or not applicable (not phase 1 or
early phase 1 alone, not without a phase); not device feasibility; not withdrawn.

Due one calendar year after the primary completion date (else the completion date, whatever
their type; a month-only date is its month's last day), three with a certificate of delay;
overdue after that plus 30 days.  Reported when results are posted or a results submission
was made and not cancelled; the reporting date is the submission's (the law's deadline is for
submission); late when it is after the due date.
"""

from __future__ import annotations

from datetime import date

from trialwatch.snapshots.changes.known import covers
from trialwatch.snapshots.findings.dating import add_months, add_years, day_only, first_day, iso, last_day, plus_days
from trialwatch.snapshots.findings.model import Finding
from trialwatch.snapshots.findings.timeline import Timeline

PRODUCT_TYPES = frozenset(
    {"DRUG", "BIOLOGICAL", "DEVICE", "COMBINATION_PRODUCT", "GENETIC", "RADIATION", "DIAGNOSTIC_TEST"}
)
US = "United States"
GRACE_DAYS = 30
FINAL_RULE = date(2017, 1, 18)  # 42 CFR Part 11 effective: TrialsTracker's cohort starts here
# Inputs the rule reads: when the known record lacks one, the answer is not known.
_NEEDS = ("study_type", "phases", "status", "design.primary_purpose")


def _unknown(record: dict, path: str) -> bool:
    return covers(record.get("unknown") or (), path)


def _product(record: dict) -> tuple[bool | None, str]:
    """Whether the trial is of an FDA-regulated product, and why."""
    flags = {key: record.get(key) for key in ("fda_regulated_drug", "fda_regulated_device")}
    if any(_unknown(record, key) for key in flags):
        return None, "FDA-regulated: the source does not show the FDA flags"
    if any(value is not None for value in flags.values()):
        shown = ", ".join(f"{key.replace('fda_regulated_', '')} {value}" for key, value in flags.items())
        return any(flags.values()), f"FDA-regulated by the record's flags ({shown})"
    if _unknown(record, "interventions[].type") or _unknown(record, "locations"):
        return None, "no FDA flags, and the source does not show intervention types or sites"
    types = sorted({i.get("type") for i in record.get("interventions") or () if i.get("type") in PRODUCT_TYPES})
    us_site = any((site.get("country") or "") == US for site in record.get("locations") or ())
    why = f"no FDA flags; product interventions: {', '.join(types) or 'none'}; US site: {'yes' if us_site else 'no'}"
    return bool(types) and us_site, why


def _phase_ok(phases: list) -> bool:
    return bool(phases) and set(phases) != {"PHASE1"} and not (set(phases) <= {"EARLY_PHASE1", "PHASE1"})


def applicability(record: dict) -> tuple[bool | None, list[str]]:
    """(applicable: True, False, or None when the record does not show what decides it; the reasons)."""
    if any(_unknown(record, path) for path in _NEEDS):
        return None, ["the source does not show " + ", ".join(p for p in _NEEDS if _unknown(record, p))]
    product, product_why = _product(record)
    phases = record.get("phases") or []
    checks = [
        (record.get("study_type") == "INTERVENTIONAL", f"study type {record.get('study_type')}"),
        (product, product_why),
        (_phase_ok(phases), f"phase {'/'.join(phases) or 'none'}"),
        (
            (record.get("design") or {}).get("primary_purpose") != "DEVICE_FEASIBILITY",
            f"primary purpose {(record.get('design') or {}).get('primary_purpose')}",
        ),
        (record.get("status") != "WITHDRAWN", f"status {record.get('status')}"),
    ]
    reasons = [f"{why}: {'passes' if ok else 'unknown' if ok is None else 'fails'}" for ok, why in checks]
    if any(ok is False for ok, _ in checks):
        return False, reasons
    return (None if any(ok is None for ok, _ in checks) else True), reasons


def _clock(record: dict) -> tuple[str | None, date | None]:
    """(which date starts the clock, its day): primary completion, else completion."""
    for key in ("primary_completion_date", "completion_date"):
        value = record.get(key)
        if isinstance(value, dict) and last_day(value.get("date")):
            return key, last_day(value["date"])
    return None, None


def reporting(record: dict) -> dict:
    """Whether results were reported, and when: posted (`results_first_posted`), or a submission
    made and not cancelled (`results_first_submitted`, or a release in `submission_tracking`
    without an unrelease).  The reporting date is the first submission's (else the posting's)."""
    posted = day_only(record.get("results_first_posted"))
    submitted = day_only(record.get("results_first_submitted"))
    submissions = (record.get("submission_tracking") or {}).get("submissions") or []
    pending = sorted(
        day
        for s in submissions
        if not s.get("unrelease") and not s.get("unrelease_unknown")
        for day in [day_only(s.get("release"))]
        if day
    )
    cancelled = bool(submissions) and not pending
    posted_any = bool(record.get("has_results") or posted)
    reported = posted_any or bool(pending) or (bool(submitted) and not cancelled)
    when = (submitted or (pending[0] if pending else None) or posted) if reported else None
    return {
        "reported": reported,
        "reported_date": iso(when),
        "posted_date": iso(posted),
        "submission_cancelled": cancelled and not posted_any,
    }


def status_on(day: date, applicable, due: date | None, report: dict) -> str:
    """not_applicable, not_yet_due, due_in_grace, overdue, reported_on_time or reported_late, on `day`."""
    if applicable is None:
        return "unknown"
    if not applicable or due is None:
        return "not_applicable" if not applicable else "no_date"
    reported = report["reported_date"] and date.fromisoformat(report["reported_date"]) <= day
    if reported:
        return "reported_late" if date.fromisoformat(report["reported_date"]) > due else "reported_on_time"
    if day <= due:
        return "not_yet_due"
    return "due_in_grace" if day <= plus_days(due, GRACE_DAYS) else "overdue"


def cohort(record: dict, applicable, clock_day: date | None) -> dict:
    """FDAAA TrialsTracker's cohort: ACT (started on or after 2017-01-18, an FDA flag true) or pACT
    (started before, primary completion on or after it); a month-only start is its first day."""
    start = first_day((record.get("start_date") or {}).get("date"))
    flagged = bool(record.get("fda_regulated_drug") or record.get("fda_regulated_device"))
    if not applicable or start is None or clock_day is None or clock_day < FINAL_RULE:
        return {"in_cohort": False, "kind": None}
    if start >= FINAL_RULE:
        return {"in_cohort": flagged, "kind": "ACT" if flagged else None}
    return {"in_cohort": True, "kind": "pACT"}


def _lateness(report: dict, due: date | None, applicable) -> dict:
    """late, days late (by submission and by posting) and late beyond the grace period."""
    submitted = date.fromisoformat(report["reported_date"]) if report["reported_date"] else None
    if not applicable or due is None or submitted is None:
        return {"late": None, "days_late": None, "days_late_by_post_date": None, "late_beyond_grace": None}
    posted = date.fromisoformat(report["posted_date"]) if report["posted_date"] else None
    return {
        "late": submitted > due,
        "days_late": max(0, (submitted - due).days),
        "days_late_by_post_date": max(0, (posted - due).days) if posted else None,
        "late_beyond_grace": submitted > plus_days(due, GRACE_DAYS),
    }


def schedule(record: dict, on: date) -> dict:
    """Everything the FDAAA rule says of the record, evaluated on `on`."""
    applicable, reasons = applicability(record)
    basis, clock_day = _clock(record)
    certificate = day_only(record.get("certificate_of_delay"))
    due = add_years(clock_day, 3 if certificate else 1) if clock_day and applicable else None
    report = reporting(record)
    return {
        "applicable": applicable,
        "reasons": reasons,
        "clock": basis,
        "clock_date": iso(clock_day),
        "certificate_of_delay": iso(certificate),
        "due_date": iso(due),
        "due_date_without_certificate": iso(add_years(clock_day, 1)) if certificate and clock_day and due else None,
        "overdue_after": iso(plus_days(due, GRACE_DAYS)) if due else None,
        **report,
        **_lateness(report, due, applicable),
        "status": status_on(on, applicable, due, report),
        "trialstracker_cohort": cohort(record, applicable, clock_day),
    }


# -- the plain rule ------------------------------------------------------------------------


def plain_rule(record: dict, on: date, months: int) -> dict:
    """No results posted `months` calendar months after primary completion, for a completed
    interventional trial: `true`, `false`, `not_yet_elapsed` or `not_applicable`; `broad` gives
    the same for an interventional trial whose primary completion is actual but whose status
    is not COMPLETED (terminated, active, unknown; never withdrawn)."""
    pcd = record.get("primary_completion_date") or {}
    completed_on = last_day(pcd.get("date"))
    point = add_months(completed_on, months) if completed_on else None
    posted = day_only(record.get("results_first_posted")) or (
        day_only(record.get("results_first_submitted")) if record.get("has_results") else None
    )
    interventional = record.get("study_type") == "INTERVENTIONAL"
    completed = record.get("status") == "COMPLETED"
    broad = (
        interventional
        and not completed
        and record.get("status") != "WITHDRAWN"
        and pcd.get("type") == "ACTUAL"
        and point is not None
    )
    answer = _no_results(point, posted, on) if interventional and completed else "not_applicable"
    return {
        "applies": interventional and completed,
        "point": iso(point),
        "posted_date": iso(posted),
        "value": answer,
        "broad": _no_results(point, posted, on) if broad else None,
    }


def _no_results(point: date | None, posted: date | None, on: date):
    if point is None:
        return "no_date"
    if posted is not None and posted <= point:
        return False if posted <= on else "not_yet_elapsed"
    if on > point:
        return True
    return "not_yet_elapsed"


# -- the findings ------------------------------------------------------------------------


# What results_overdue and days_late keep of the rule (results_due keeps it all).
_BRIEF = (
    "applicable",
    "due_date",
    "overdue_after",
    "reported_date",
    "posted_date",
    "days_late",
    "days_late_by_post_date",
    "status",
)


def _base(t: Timeline, name: str, rule: dict) -> Finding:
    holds = None if rule["applicable"] is None else False
    value = rule if name == "results_due" else {key: rule[key] for key in _BRIEF}
    return Finding(t.nct_id, name, holds, cls=rule["status"], value=value, evidence=[t.last.evidence("current record")])


def fdaaa_findings(t: Timeline, on: date) -> list[Finding]:
    """results_due, results_overdue and days_late, from the trial as known now, on `on`."""
    rule = schedule(t.current, on)
    status, due = rule["status"], rule["due_date"]
    since_due = (on - date.fromisoformat(due)).days if due else None
    due_finding, overdue, late = (_base(t, name, rule) for name in ("results_due", "results_overdue", "days_late"))
    if rule["applicable"] and due and on > date.fromisoformat(due):
        due_finding.holds, due_finding.days = True, since_due
    overdue.holds = status == "overdue" if rule["applicable"] is not None else None
    overdue.days = since_due if status == "overdue" else None
    late.holds = status == "reported_late" if rule["applicable"] is not None else None
    late.days = rule["days_late"] if rule["late"] is not None else None
    words = _status_words(rule, since_due)
    for finding in (due_finding, overdue, late):
        finding.summary = words
    return [due_finding, overdue, late]


def _status_words(rule: dict, since_due: int | None) -> str:
    status = rule["status"]
    if status in ("not_applicable", "unknown", "no_date"):
        failed = [r for r in rule["reasons"] if not r.endswith("passes")]
        return {"unknown": "applicability unknown", "no_date": "applicable, but no completion date"}.get(
            status, "not an applicable clinical trial"
        ) + (f": {'; '.join(failed)}" if failed else "")
    due = f"due {rule['due_date']}" + (" (certificate of delay: 3 years)" if rule["certificate_of_delay"] else "")
    if status == "not_yet_due":
        return f"results {due}"
    if status in ("due_in_grace", "overdue"):
        return f"no results {since_due} days after they were {due}; overdue after {rule['overdue_after']}"
    on_time = "on time" if status == "reported_on_time" else f"{rule['days_late']} days late"
    return f"results submitted {rule['reported_date']}, {on_time} ({due})"


def plain_findings(t: Timeline, on: date) -> list[Finding]:
    """no_results_12m and no_results_24m."""
    out = []
    for months in (12, 24):
        rule = plain_rule(t.current, on, months)
        value = rule["value"]
        holds = value if isinstance(value, bool) else (False if value == "not_applicable" else None)
        cls = {True: "no_results", False: "results_posted"}.get(value) if isinstance(value, bool) else value
        finding = Finding(
            t.nct_id,
            f"no_results_{months}m",
            holds,
            cls=cls,
            value=rule if rule["applies"] or rule["broad"] is not None else {"applies": False},
        )
        finding.evidence = [t.last.evidence("current record")]
        if value is True and rule["point"]:
            finding.days = (on - date.fromisoformat(rule["point"])).days
        finding.summary = _plain_words(rule, months)
        out.append(finding)
    return out


def _plain_words(rule: dict, months: int) -> str:
    value = rule["value"]
    if value == "not_applicable":
        return "not a completed interventional trial"
    if value == "no_date":
        return "no primary completion date"
    posted = f"results posted {rule['posted_date']}" if rule["posted_date"] else "no results posted"
    verdict = {True: "none by then", False: "posted by then", "not_yet_elapsed": "not yet reached"}[value]
    return f"{months} months after primary completion: {rule['point']}, {verdict} ({posted})"
