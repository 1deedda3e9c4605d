"""Primary outcome changed (outcome switching).

The reference is the primary outcomes of the last version dated on or before the actual start
(COMPare's reference point; a month-precision start counts its whole month as "before").  Each
later version is compared with the reference:

- **major**: a primary outcome added or removed, or moved to or from the secondary outcomes;
- **minor**: a primary outcome's measure reworded, or its time frame or description changed.

An outcome of a later version continues a reference outcome when its measure is the same text
(case, white space, markup and the punctuation around words aside); else, among those left,
when it shares at least half its content words (Jaccard >= 0.5); else when its time frame and
description are the same.  Each
change is timed: before the start, after the start, after the (actual) primary completion,
after the (actual) completion.  A switch is **hidden** when a later version restores what the
reference said (or something nearer to it), so that the current record alone does not show it.
"""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise

from trialwatch.snapshots.changes.known import covers, same
from trialwatch.snapshots.findings.dating import compare, first_day
from trialwatch.snapshots.findings.model import Finding
from trialwatch.snapshots.findings.timeline import Timeline, Version

MAJOR_KINDS = ("added", "removed", "moved_to_secondary", "moved_from_secondary")
MINOR_KINDS = ("measure_reworded", "time_frame_changed", "description_changed")
CLASSES = ("none", "minor", "major")
SIMILAR = 0.5
_STOPWORDS = frozenset("a an the of in on at to for and or with by from as per vs versus".split())
_MARKUP = re.compile(r"[*_`\\#>]|^\s*(?:[-+]|\d+\.)\s+", re.MULTILINE)


# -- matching outcomes ------------------------------------------------------------------


def norm(text) -> str:
    """Text compared: markup, case, white space and the punctuation around words (a closing full
    stop, a comma) aside; symbols within words (`≥50%`) count."""
    words = (word.strip(".,;:!?\"'()[]") for word in _MARKUP.sub(" ", str(text or "")).casefold().split())
    return " ".join(word for word in words if word)


def content_words(text) -> set[str]:
    return set(re.findall(r"[^\W_]+", norm(text))) - _STOPWORDS


def jaccard(a, b) -> float:
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0


def pair(old: list[dict], new: list[dict]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Which new outcome continues which old one: (pairs of indexes, old unpaired, new unpaired)."""
    left_old, left_new = list(range(len(old))), list(range(len(new)))
    pairs: list[tuple[int, int]] = []

    def take(match) -> None:
        for i in list(left_old):
            candidates = [j for j in left_new if match(old[i], new[j])]
            if candidates:
                j = max(candidates, key=lambda k: jaccard(old[i].get("measure"), new[k].get("measure")))
                pairs.append((i, j))
                left_old.remove(i)
                left_new.remove(j)

    take(lambda a, b: norm(a.get("measure")) == norm(b.get("measure")))
    take(lambda a, b: jaccard(a.get("measure"), b.get("measure")) >= SIMILAR)
    take(
        lambda a, b: (
            bool(norm(a.get("time_frame")) and norm(a.get("description")))
            and norm(a.get("time_frame")) == norm(b.get("time_frame"))
            and norm(a.get("description")) == norm(b.get("description"))
        )
    )
    return sorted(pairs), left_old, left_new


def _text_same(a, b) -> bool:
    return norm(a) == norm(b) or same(a, b)


def compare_outcomes(ref: dict, later: dict) -> list[dict]:
    """What differs between the primary outcomes of `ref` and `later` (`{primary, secondary}`):
    one event per outcome added, removed, moved or changed."""
    primary_then, primary_now = ref.get("primary") or [], later.get("primary") or []
    pairs, gone, new = pair(primary_then, primary_now)
    events = []
    for i, j in pairs:
        a, b = primary_then[i], primary_now[j]
        for kind, key in (
            ("measure_reworded", "measure"),
            ("time_frame_changed", "time_frame"),
            ("description_changed", "description"),
        ):
            if not _text_same(a.get(key), b.get(key)):
                events.append({"kind": kind, "measure": b.get("measure"), "old": a.get(key), "new": b.get(key)})
    _, demoted, _ = pair([primary_then[i] for i in gone], later.get("secondary") or [])
    for index, i in enumerate(gone):
        kind = "removed" if index in demoted else "moved_to_secondary"
        events.append({"kind": kind, "measure": primary_then[i].get("measure")})
    _, _, brand_new = pair(ref.get("secondary") or [], [primary_now[j] for j in new])
    for index, j in enumerate(new):
        kind = "added" if index in brand_new else "moved_from_secondary"
        events.append({"kind": kind, "measure": primary_now[j].get("measure")})
    return events


def _shows_outcomes(version: Version) -> bool:
    """The version's own source showed its whole list of primary outcomes: an observation of them."""
    unknown = version.record.get("unknown") or ()
    return not any(covers(unknown, path) for path in _WHOLE) and bool(
        (version.record.get("outcomes") or {}).get("primary")
    )


def severity(events: list[dict]) -> str:
    if any(e["kind"] in MAJOR_KINDS for e in events):
        return "major"
    return "minor" if events else "none"


# -- the timeline ------------------------------------------------------------------------


# What a version must know for its primary outcomes to be compared: the whole list, each item's text
# (a results page shows the first outcome only, without its measure).
_WHOLE = tuple(f"outcomes.primary{part}" for part in ("", ".rest", "[].measure", "[].time_frame", "[].description"))


def _outcomes(version: Version) -> dict | None:
    if not all(version.knows(path) for path in _WHOLE):
        return None
    outcomes = version.known.get("outcomes") or {}
    secondary = outcomes.get("secondary") if version.knows("outcomes.secondary") else None
    return {"primary": outcomes.get("primary") or [], "secondary": secondary or []}


def _actual(version: Version, key: str) -> dict | None:
    """A date field as known, when it is actual (or its type is not known and the status says the
    trial has started)."""
    value = version.get(key)
    if not isinstance(value, dict) or not value.get("date"):
        return None
    if value.get("type") == "ACTUAL":
        return value
    started = version.get("status") not in (None, "NOT_YET_RECRUITING", "WITHDRAWN")
    return value if value.get("type") is None and key == "start_date" and started else None


def timing(day: date, start: dict | None, primary_completion: dict | None, completion: dict | None) -> str:
    """When a change dated `day` came: before_start, after_start, after_primary_completion,
    after_completion (each date compared at its own precision), or start_unknown."""
    if start is None:
        return "start_unknown"
    since_start = compare(day, start["date"])
    if since_start is not None and since_start[0] <= 0:
        return "before_start"
    for name, value in (("after_completion", completion), ("after_primary_completion", primary_completion)):
        since = compare(day, value["date"]) if value else None
        if since is not None and since[0] > 0:
            return name
    return "after_start"


def reference(t: Timeline, start: dict | None, carrying: list[Version]) -> tuple[Version, str, bool]:
    """The reference version, why it is the reference, and whether it is a genuine pre-start version."""
    if start is None:
        return carrying[0], "the first version with primary outcomes (no actual start date known)", False
    before = [v for v in carrying if (compare(v.date, start["date"]) or (1,))[0] <= 0]
    if before:
        return before[-1], "the last version dated on or before the actual start", True
    return carrying[0], "the first version with primary outcomes, already after the start", False


def _start_point(t: Timeline, carrying: list[Version]) -> tuple[dict | None, Version, str, bool]:
    """(actual start or None, reference version, why, complete)."""
    start = _actual(t.last, "start_date")
    planned = t.last.get("start_date")
    if start is None and isinstance(planned, dict) and planned.get("date"):
        return None, carrying[-1], "the latest version (the trial has not started: its start date is estimated)", True
    ref, why, complete = reference(t, start, carrying)
    return start, ref, why, complete


def _changes(carrying: list[Version], ref: Version, dates: tuple) -> list[dict]:
    """Every version whose primary outcomes differ from the version before it, with its class
    against that version and (after the reference) against the reference."""
    ref_outcomes, after_ref = _outcomes(ref) or {}, False
    out = []
    for previous, version in pairwise(carrying):
        after_ref = after_ref or previous is ref
        events = compare_outcomes(_outcomes(previous) or {}, _outcomes(version) or {})
        if not events:
            continue
        out.append(
            {
                "version": version.label,
                "snapshot_id": version.snapshot_id,
                "date": version.date.isoformat(),
                "timing": timing(version.date, *dates),
                "class": severity(events),
                "against_reference": severity(compare_outcomes(ref_outcomes, _outcomes(version) or {}))
                if after_ref
                else None,
                "events": events,
            }
        )
    return out


def primary_outcome_changed(t: Timeline) -> Finding:
    finding = Finding(t.nct_id, "primary_outcome_changed", None)
    carrying = [v for v in t.versions if _outcomes(v) is not None]
    while carrying and not (_outcomes(carrying[0]) or {}).get("primary"):
        carrying.pop(0)  # from the first version listing primary outcomes
    if not carrying:
        finding.cls, finding.complete, finding.summary = (
            "no_primary_outcomes",
            False,
            "no version lists primary outcomes",
        )
        return finding
    start, ref, why, finding.complete = _start_point(t, carrying)
    if (
        start is not None
        and sum(1 for v in t.versions if _shows_outcomes(v)) < 2
        and not (ref is t.first and t.from_registration)
    ):
        finding.cls, finding.complete = "seen_once", False
        finding.summary = f"one observation of the outcomes only ({ref.label}): no history to compare"
        return finding
    dates = (start, _actual(t.last, "primary_completion_date"), _actual(t.last, "completion_date"))
    changes = _changes(carrying, ref, dates)
    later = [c for c in changes if c["against_reference"] is not None]
    worst = max((CLASSES.index(c["against_reference"]) for c in later), default=0)
    now = severity(compare_outcomes(_outcomes(ref) or {}, _outcomes(carrying[-1]) or {}))
    switch = next((c for c in later if c["against_reference"] != "none"), None)
    finding.holds, finding.cls = worst > 0, CLASSES[worst]
    finding.value = {
        "reference": {"version": ref.label, "snapshot_id": ref.snapshot_id, "why": why},
        "reference_measures": [o.get("measure") for o in (_outcomes(ref) or {}).get("primary") or []],
        "start_date": start,
        "current_against_reference": now,
        "hidden": worst > CLASSES.index(now),
        "timing": switch["timing"] if switch else None,
        "changes": changes,
    }
    finding.evidence = [ref.evidence("reference")] + [
        v.evidence("primary outcomes changed")
        for v in carrying
        if any(c["snapshot_id"] == v.snapshot_id for c in later)
    ]
    started = first_day(start["date"]) if start else None
    if switch and started:
        finding.days = (date.fromisoformat(switch["date"]) - started).days
    finding.summary = _summary(finding, switch, ref)
    return finding


def _summary(finding: Finding, switch: dict | None, ref: Version) -> str:
    if not switch:
        return f"primary outcomes as in the reference ({ref.label}) in every later version"
    kinds = sorted(
        {
            e["kind"].replace("_", " ")
            for c in finding.value["changes"]
            if c["against_reference"] not in (None, "none")
            for e in c["events"]
        }
    )
    hidden = ", hidden: the current record shows the reference again" if finding.value["hidden"] else ""
    when = switch["timing"].replace("_", " ")
    return f"{finding.cls}, {when} ({switch['version']}): {', '.join(kinds)}; reference {ref.label}{hidden}"
