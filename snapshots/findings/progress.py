"""Primary completion slippage, and enrollment against the first estimate.

Both compare the first value the timeline shows with the current one.  When the first version
is the registration version, the first value is the first-registered one; otherwise it is the
first seen (`complete` false), and a field seen in one snapshot only says nothing of either.
"""

from __future__ import annotations

from itertools import pairwise

from trialwatch.snapshots.findings.dating import last_day, shift
from trialwatch.snapshots.findings.model import Finding
from trialwatch.snapshots.findings.timeline import Timeline, Version

SHORTFALL_BELOW = 80.0  # percent of the first estimate
_UNDER_WAY = ("NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION")


def _dated(value) -> dict | None:
    return value if isinstance(value, dict) and value.get("date") else None


def primary_completion_slippage(t: Timeline) -> Finding:
    finding = Finding(t.nct_id, "primary_completion_slippage", None)
    series = t.series("primary_completion_date", _dated)
    if not series:
        finding.cls, finding.complete, finding.summary = "no_date", False, "no primary completion date in any version"
        return finding
    first_version, first = series[0]
    current_version, current = series[-1]
    finding.complete = first_version is t.first and t.from_registration
    moves = [shift(a["date"], b["date"]) or 0 for (_, a), (_, b) in pairwise(series)]
    days = shift(first["date"], current["date"]) or 0
    if t.observed_once("primary_completion_date", _dated) or (
        not any(moves) and t.gap_at_start("primary_completion_date")
    ):
        once = t.observed_once("primary_completion_date", _dated)
        finding.cls, finding.complete = ("seen_once" if once else "unchanged_where_known"), False
        what = "one observation only" if once else f"not known before {first_version.label}"
        finding.summary = (
            f"{what}: {first_version.label} shows {current['date']}{_typed(current)}; no history to measure"
        )
        finding.value = {"current": current, "became_actual": _became_actual(series, current)}
        return finding
    finding.holds, finding.days = days > 0, days
    finding.cls = "slipped" if days > 0 else "advanced" if days < 0 else "unchanged"
    actual = _became_actual(series, current)
    finding.value = {
        "first": first,
        "first_shown_in": first_version.label,
        "current": current,
        "postponements": sum(1 for m in moves if m > 0),
        "advances": sum(1 for m in moves if m < 0),
        "became_actual": actual,
    }
    basis = "first registered" if finding.complete else f"first seen ({first_version.label})"
    finding.summary = f"{first['date']} {basis} → {current['date']}{_typed(current)}: " + (
        f"{abs(days)} days {'later' if days > 0 else 'earlier'}, {finding.value['postponements']} postponement(s)"
        if days
        else "unchanged"
    )
    finding.evidence = [first_version.evidence("first value"), current_version.evidence("current value")]
    return finding


def _typed(value: dict) -> str:
    return f" ({value['type'].lower()})" if value.get("type") else ""


def _became_actual(series: list[tuple[Version, dict]], current: dict) -> dict | None:
    """The version where the current value became ACTUAL, and its lag behind that date."""
    if current.get("type") != "ACTUAL":
        return None
    index = len(series) - 1
    while index > 0 and series[index - 1][1].get("type") == "ACTUAL":
        index -= 1
    version, value = series[index]
    ended = last_day(value["date"])
    return {
        "version": version.label,
        "snapshot_id": version.snapshot_id,
        "date": version.date.isoformat(),
        "lag_days": (version.date - ended).days if ended else None,
        "exact": index > 0,
    }


def _count(value) -> dict | None:
    return value if isinstance(value, dict) and isinstance(value.get("count"), int) else None


def enrollment_vs_first_estimate(t: Timeline, below: float = SHORTFALL_BELOW) -> Finding:
    finding = Finding(t.nct_id, "enrollment_vs_first_estimate", None)
    series = t.series("enrollment", _count)
    if not series:
        finding.cls, finding.complete, finding.summary = "no_enrollment", False, "no enrollment in any version"
        return finding
    first_version, first = series[0]
    current_version, current = series[-1]
    finding.complete = first_version is t.first and t.from_registration
    estimate = first.get("type") == "ESTIMATED" or (
        first.get("type") is None and first_version.get("status") in _UNDER_WAY
    )
    if not estimate or not first["count"]:
        finding.cls = "no_first_estimate"
        finding.summary = f"the first enrollment shown ({first_version.label}) is {first['count']} {first.get('type') or ''}, not an estimate".rstrip()
        finding.value = {"first": first, "current": current}
        return finding
    if t.observed_once("enrollment", _count) or (len(series) == 1 and t.gap_at_start("enrollment")):
        once = t.observed_once("enrollment", _count)
        finding.cls, finding.complete = ("seen_once" if once else "unchanged_where_known"), False
        what = "one observation only" if once else f"not known before {first_version.label}"
        finding.summary = (
            f"{what}: {first_version.label} shows {current['count']}{_typed(current)}; no history to measure"
        )
        finding.value = {"current": current}
        return finding
    percent = round(100.0 * current["count"] / first["count"], 1)
    finding.holds, finding.percent = percent < below, percent
    finding.cls = "shortfall" if finding.holds else "no_shortfall"
    basis = "first estimate" if finding.complete else f"first estimate seen ({first_version.label})"
    kind = "actual" if current.get("type") == "ACTUAL" else "current estimate" if current.get("type") else "current"
    finding.summary = (
        f"{kind} {current['count']} of the {basis} {first['count']}: {percent:g}% (shortfall below {below:g}%)"
    )
    finding.value = {
        "first": first,
        "first_shown_in": first_version.label,
        "current": current,
        "last_changed": current_version.label,
        "threshold_percent": below,
    }
    finding.evidence = [first_version.evidence("first estimate"), current_version.evidence("current enrollment")]
    return finding
