"""Registered retrospectively, and retroactively prospective.

- **registered_retrospectively** (WHO ICTRP: registration before first enrolment): the trial
  was first submitted after the start date shown in its first version.  A month-precision
  start is compared at month precision, and registration in the start's own month is a class
  of its own (`same_month`: the registry cannot say which came first).
- **retroactively_prospective** (Holst & Carlisle, Trials 2024): registered retrospectively per
  its first version, and a later version moves the start date so that it no longer precedes
  registration (to the registration's month or later).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from trialwatch.snapshots.findings.dating import compare, day_only
from trialwatch.snapshots.findings.model import Finding
from trialwatch.snapshots.findings.timeline import Timeline, Version

RETROSPECTIVE, SAME_MONTH, SAME_YEAR, PROSPECTIVE = "retrospective", "same_month", "same_year", "prospective"

# Where the registration date comes from, best first.
_REGISTRATION_SOURCES = (
    ("first_submitted", "first submitted (studyFirstSubmitDate)"),
    ("first_submitted_qc", "first submission's quality control (studyFirstSubmitQcDate), a few days after submission"),
)


@dataclass
class Registered:
    day: date
    basis: str
    version: Version


def registered(t: Timeline) -> Registered | None:
    """When the trial was registered: its first-submitted date, else the first submission's QC
    date, else the registration version's date; the first-posted date (later than submission,
    so it can only overstate lateness) only when nothing else is known."""
    for key, basis in _REGISTRATION_SOURCES:
        for version in reversed(t.versions):
            value = day_only(version.get(key))
            if value:
                return Registered(value, basis, version)
    if t.from_registration:
        return Registered(t.first.date, "date of the registration version", t.first)
    for version in reversed(t.versions):
        value = day_only(version.get("first_posted"))
        if value:
            return Registered(value, "first posted (later than submission: may overstate lateness)", version)
    return None


def classify(day: date, start_text) -> tuple[str, int] | None:
    """Registration `day` against a start date: (class, days from the start to registration,
    at the start's precision: positive means registered after the start; for a month-precision
    start, the days between the two months' first days)."""
    compared = compare(day, start_text)
    if compared is None:
        return None
    days, precision = compared
    if days == 0 and precision != "day":
        return (SAME_MONTH if precision == "month" else SAME_YEAR), 0
    return (RETROSPECTIVE if days > 0 else PROSPECTIVE), days


def _start_of(version: Version) -> dict | None:
    start = version.get("start_date")
    return start if isinstance(start, dict) and start.get("date") else None


def first_start(t: Timeline) -> Version | None:
    """The first version that shows a start date."""
    return next((v for v in t.versions if _start_of(v)), None)


def registered_retrospectively(t: Timeline) -> Finding:
    finding = Finding(t.nct_id, "registered_retrospectively", None)
    reg, shown = registered(t), first_start(t)
    if reg is None or shown is None:
        finding.cls = "no_registration_date" if reg is None else "no_start_date"
        finding.summary = "no registration date known" if reg is None else "no start date in any version"
        finding.complete = False
        return finding
    start = _start_of(shown) or {}
    classified = classify(reg.day, start["date"])
    if classified is None:
        finding.cls, finding.complete = "unreadable_start_date", False
        finding.summary = f"the start date {start['date']!r} shown in {shown.label} is not a date"
        return finding
    cls, days = classified
    finding.cls, finding.days = cls, days
    finding.holds = {RETROSPECTIVE: True, PROSPECTIVE: False}.get(cls or "")
    finding.complete = shown is t.first and t.from_registration
    where = "the registration version" if finding.complete else f"{shown.label} (the first version showing one)"
    finding.summary = (
        f"registered {reg.day} ({reg.basis.split(' (')[0]}): {_when(cls, days, start['date'])} the start "
        f"{start['date']}{_typed(start)} shown in {where}"
    )
    finding.value = {
        "registered": reg.day.isoformat(),
        "registration_basis": reg.basis,
        "start_date": start,
        "start_shown_in": shown.label,
        "days_after_start": days,
        # With no start date in the registration version, its status still says whether anyone was enrolled.
        "status_at_registration": t.first.get("status") if t.from_registration else None,
    }
    finding.evidence = [shown.evidence("start date shown"), reg.version.evidence("registration date")]
    return finding


def _when(cls, days, start_text) -> str:
    if cls in (SAME_MONTH, SAME_YEAR):
        return f"in the {cls.split('_')[1]} of"
    side = "after" if days > 0 else "before"
    if len(str(start_text)) == 7:  # month precision: say it in months
        months = round(abs(days) / 30.44)
        return f"{months} month{'s' if months != 1 else ''} {side}"
    return f"{abs(days)} day{'s' if abs(days) != 1 else ''} {side}"


def _typed(date_value: dict) -> str:
    kind = date_value.get("type")
    return f" ({kind.lower()})" if kind else ""


def retroactively_prospective(t: Timeline, base: Finding) -> Finding:
    """`base`: this timeline's registered_retrospectively finding."""
    finding = Finding(t.nct_id, "retroactively_prospective", None, complete=base.complete)
    if base.cls not in (RETROSPECTIVE, PROSPECTIVE, SAME_MONTH, SAME_YEAR):
        finding.cls, finding.summary = base.cls, base.summary
        return finding
    if base.cls != RETROSPECTIVE:
        finding.holds, finding.cls = False, "not_retrospective"
        finding.summary = f"not registered retrospectively per its first version ({base.cls.replace('_', ' ')})"
        return finding
    day = date.fromisoformat(base.value["registered"])
    first = first_start(t)
    assert first is not None
    for version in t.versions[t.versions.index(first) + 1 :]:
        start = _start_of(version)
        moved = classify(day, start["date"]) if start else None
        if moved and moved[0] != RETROSPECTIVE:
            return _moved(finding, base, version, start or {}, moved, t)
    finding.holds, finding.cls = False, "still_retrospective"
    finding.summary = (
        f"registered retrospectively and no later version moves the start ({base.value['start_date']['date']})"
    )
    finding.value = {"registered": base.value["registered"], "first_start_date": base.value["start_date"]}
    finding.evidence = list(base.evidence)
    return finding


def _moved(finding: Finding, base: Finding, version: Version, start: dict, moved, t: Timeline) -> Finding:
    cls, days = moved
    current = _start_of(t.last) or {}
    now = classify(date.fromisoformat(base.value["registered"]), current.get("date"))
    finding.holds, finding.cls, finding.days = True, f"moved_to_{cls}", days
    finding.summary = (
        f"registered {base.value['registered']}, {base.days} days after the first start "
        f"{base.value['start_date']['date']}; {version.label} moved the start to {start['date']}{_typed(start)}"
    )
    finding.value = {
        "registered": base.value["registered"],
        "first_start_date": base.value["start_date"],
        "moved_in": version.label,
        "moved_start_date": start,
        "class_after_move": cls,
        "current_start_date": current or None,
        "current_class": now[0] if now else None,
    }
    finding.evidence = [*base.evidence, version.evidence("start date moved")]
    return finding
