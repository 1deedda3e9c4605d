"""Meaning-aware changes of a trial: what a new record changes of what was known.

`diff_records(known, record)` returns change dicts (the keys of CHANGE_KEYS), in report
order: status, dates and enrollment first, then the other categories.  `known` is the trial
as known before `record` (`trialwatch.snapshots.changes.known`: each field's last known
value), or simply the record before it.  What each field means for a reader of registry
changes lives in one table, SPECS: its category, a label, and the comparer that knows its
meaning (dates shift and become actual, enrollment changes by a percentage, lists are
multisets matched by identity, long texts by line).

A path unknown in either (a field the new record's source does not carry, or one no source
had carried before) is never compared: its first appearance, or its absence from a poorer
source, is no change.  Equality is `known.canon`'s: the same definition decides whether
something changed and describes what did, so every change has a summary.
"""

from __future__ import annotations

from collections import Counter

from trialwatch.ingest.record import upgrade
from trialwatch.snapshots.changes.dates import at_precision, coarser, registry_date
from trialwatch.snapshots.changes.known import (
    IDENTITIES,
    alike,
    canon,
    cells,
    covers,
    pair_items,
    same,
    same_month,
    text_lines,
    words,
)

CATEGORIES = (
    "status",
    "dates",
    "enrollment",
    "design",
    "arms",
    "interventions",
    "eligibility",
    "outcomes",
    "sponsors",
    "contacts",
    "locations",
    "identifiers",
    "description",
    "results",
    "other",
)
SEVERITIES = ("critical", "notable", "minor")
CHANGE_KEYS = (
    "nct_id",
    "observed_at",
    "category",
    "severity",
    "field",
    "item",
    "kind",
    "old",
    "new",
    "summary",
    "shift_days",
    "old_type",
    "new_type",
    "became_actual",
    "precision_changed",
    "percent_change",
    "lines_added",
    "lines_removed",
)
CRITICAL_STATUSES = {"SUSPENDED", "TERMINATED", "WITHDRAWN"}
NOTABLE_SHIFT_DAYS = 30
NOTABLE_ENROLLMENT_PERCENT = 10.0
LONG_TEXT = 60  # characters: a longer text is shown as "changed", its lines in lines_added/lines_removed


class Context:
    """What a comparer needs besides the two values: what is unknown on each side."""

    def __init__(self, nct_id: str, old_unknown: set[str], new_unknown: set[str]):
        self.nct_id = nct_id
        self.old_unknown = old_unknown
        self.new_unknown = new_unknown

    def is_unknown(self, path: str) -> bool:
        """Unknown on either side: not compared."""
        return covers(self.old_unknown, path) or covers(self.new_unknown, path)

    def change(self, spec: Spec, kind: str, old, new, summary: str, severity: str | None = None, **extra) -> dict:
        row = dict.fromkeys(CHANGE_KEYS)
        row.update(
            nct_id=self.nct_id,
            category=spec.category,
            severity=severity or spec.severity,
            field=spec.path,
            kind=kind,
            old=old,
            new=new,
            summary=summary,
        )
        row.update(extra)
        return row


class Spec:
    """One field of the record: where it is, what it is about, how to compare it."""

    def __init__(self, path, category, label, compare, severity="minor", noun=None):
        self.path = path
        self.category = category
        self.label = label
        self.compare = compare
        self.severity = severity
        self.key = IDENTITIES.get(path)
        self.noun = noun or label


def _get(record: dict, path: str):
    value: object = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "/".join(str(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_show(v)}" for k, v in value.items() if v not in (None, [], {}))
    text = " ".join(str(value).split())
    return text if len(text) <= 80 else text[:77] + "…"


# ---------------------------------------------------------------------------------------
# Comparers: (spec, old, new, ctx) → list of change dicts


def compare_scalar(spec, old, new, ctx):
    if same(old, new):
        return []
    kind = "added" if old is None else "removed" if new is None else "changed"
    return [ctx.change(spec, kind, old, new, f"{spec.label} {_show(old)} → {_show(new)}")]


def compare_why_stopped(spec, old, new, ctx):
    """A reason for stopping appearing is the news a trial watcher most needs; its rewording is not."""
    changes = compare_scalar(spec, old, new, ctx)
    for change in changes:
        if change["kind"] == "added":
            change.update(severity="critical", summary=f"Why stopped: {_show(new)}")
    return changes


def compare_status(spec, old, new, ctx):
    if old == new:
        return []
    severity = "critical" if new in CRITICAL_STATUSES else "notable"
    kind = "added" if old is None else "changed"
    return [ctx.change(spec, kind, old, new, f"Status {_show(old)} → {_show(new)}", severity)]


def compare_presence(spec, old, new, ctx):
    """`in_registry`: a trial the registry stopped returning, or one that came back."""
    if old is None or old == new:
        return []
    if new is False:
        return [ctx.change(spec, "removed", old, new, "No longer in the registry", "critical")]
    return [ctx.change(spec, "added", old, new, "Back in the registry", "notable")]


def compare_results(spec, old, new, ctx):
    if bool(old) == bool(new):
        return []
    if new:
        return [ctx.change(spec, "added", old, new, "Results posted", "notable")]
    return [ctx.change(spec, "removed", old, new, "Results removed", "critical")]


def compare_enrollment(spec, old, new, ctx):
    if old == new:
        return []
    if old is None or new is None:
        kind = "added" if old is None else "removed"
        verb = "set" if old is None else "removed"
        return [ctx.change(spec, kind, old, new, f"Enrollment {verb}: {_show_enrollment(new or old)}", "notable")]
    old_count, new_count = old.get("count"), new.get("count")
    old_type, new_type = (None, None) if ctx.is_unknown("enrollment.type") else (old.get("type"), new.get("type"))
    type_changed = bool(old_type and new_type and old_type != new_type)
    if old_count == new_count and not type_changed:
        return []
    percent = None
    if isinstance(old_count, int) and isinstance(new_count, int) and old_count:
        percent = round((new_count - old_count) * 100.0 / old_count, 1)
    notable = (
        type_changed
        or (percent is not None and abs(percent) >= NOTABLE_ENROLLMENT_PERCENT)
        or (old_count != new_count and not old_count)
    )
    parts = []
    if old_count != new_count:
        shown = f"{_show(old_count)} → {_show(new_count)}"
        parts.append(shown + (f" ({percent:+.1f}%)" if percent is not None else ""))
    if type_changed:
        parts.append(f"type {old_type} → {new_type}")
    return [
        ctx.change(
            spec,
            "changed",
            old,
            new,
            "Enrollment " + ", ".join(parts),
            "notable" if notable else "minor",
            percent_change=percent,
            old_type=old_type,
            new_type=new_type,
        )
    ]


def _show_enrollment(value) -> str:
    kind = value.get("type")
    return f"{value.get('count')}" + (f" ({kind.lower()})" if kind else "")


def compare_set(spec, old, new, ctx):
    """Lists of values as multisets; conditions and keywords by their words where a source may
    have run several together on one line."""
    old, new = old or [], new or []
    if ctx.is_unknown(f"{spec.path}.items"):
        added, removed = list((words(new) - words(old)).elements()), list((words(old) - words(new)).elements())
        noun = "words"
    else:
        old_count, new_count = Counter(map(str, old)), Counter(map(str, new))
        added, removed = list((new_count - old_count).elements()), list((old_count - new_count).elements())
        noun = ""
    if not added and not removed:
        return []
    bits = [
        f"added {noun} {_quoted(added)}".replace("  ", " ") if added else "",
        f"removed {noun} {_quoted(removed)}".replace("  ", " ") if removed else "",
    ]
    summary = f"{spec.label}: " + "; ".join(bit for bit in bits if bit)
    return [ctx.change(spec, "changed", old, new, summary, lines_added=added, lines_removed=removed)]


def _quoted(items) -> str:
    return ", ".join(repr(item) for item in items)


def compare_lines(spec, old, new, ctx):
    """Long texts and criteria lists: what was added and removed, line by line."""
    old_lines, new_lines = text_lines(old), text_lines(new)
    old_count, new_count = Counter(old_lines), Counter(new_lines)
    added = list((new_count - old_count).elements())
    removed = list((old_count - new_count).elements())
    if not added and not removed:
        return []
    if not old_lines or not new_lines:
        kind = "added" if not old_lines else "removed"
        return [ctx.change(spec, kind, old, new, f"{spec.label} {kind}", lines_added=added, lines_removed=removed)]
    bits = []
    if added:
        bits.append(f"{len(added)} added" + (f": {_show(added[0])!s}" if len(added) == 1 else ""))
    if removed:
        bits.append(f"{len(removed)} removed" + (f": {_show(removed[0])!s}" if len(removed) == 1 else ""))
    summary = f"{spec.label}: " + "; ".join(bits)
    return [ctx.change(spec, "changed", old, new, summary, lines_added=added, lines_removed=removed)]


def compare_object(spec, old, new, ctx):
    """A small object (lead sponsor, responsible party): one change naming what differs."""
    if old == new:
        return []
    if not isinstance(old, dict) or not isinstance(new, dict):
        kind = "added" if old is None else "removed" if new is None else "changed"
        return [ctx.change(spec, kind, old, new, f"{spec.label} {_show(old)} → {_show(new)}")]
    parts = _differences(_known_part(old, new, spec.path, ctx, "."), _known_part(new, old, spec.path, ctx, "."))
    if not parts:
        return []
    return [ctx.change(spec, "changed", old, new, f"{spec.label}: {'; '.join(parts)}")]


def compare_sections(spec, old, new, ctx):
    """Sections kept as text (a results page's, or a page's not understood): one text per heading,
    results by their cells.  A source that shows only some sections (`path.rest` unknown) removes none."""
    old, new = old or {}, new or {}
    partial = ctx.is_unknown(f"{spec.path}.rest")
    changes = []
    for heading in sorted(set(old) | set(new)):
        if partial and (heading not in old or heading not in new):
            continue
        sub = Spec(f"{spec.path}.{heading}", spec.category, f"Section {heading!r}", compare_lines)
        before, after = old.get(heading), new.get(heading)
        if spec.path == "results":
            before, after = cells(before) if before is not None else None, cells(after) if after is not None else None
        changes.extend(compare_lines(sub, before, after, ctx))
    return changes


# -- dates -------------------------------------------------------------------------------


def compare_date(spec, old, new, ctx):
    if old == new:
        return []
    if old is None or new is None:
        kind, verb = ("added", "set") if old is None else ("removed", "removed")
        return [ctx.change(spec, kind, old, new, f"{spec.label} {verb}: {_show_dated(new if old is None else old)}")]
    old_type, new_type = (None, None) if ctx.is_unknown(f"{spec.path}.type") else (old.get("type"), new.get("type"))
    moved = _movement(spec.path, old.get("date"), new.get("date"), ctx)
    type_changed = bool(old_type and new_type and old_type != new_type)
    if moved is None and not type_changed:
        return []
    shift_days, precision_changed, parts = moved or (0, False, [])
    became_actual = type_changed and new_type == "ACTUAL"
    if became_actual:
        parts = [*parts, "became actual"]
    elif type_changed:
        parts = [*parts, f"{old_type.lower()} → {new_type.lower()}"]
    notable = abs(shift_days or 0) >= NOTABLE_SHIFT_DAYS or (became_actual and spec.path == "primary_completion_date")
    summary = f"{spec.label} {_show_dated(old)} → {_show_dated(new)}: {', '.join(parts)}"
    return [
        ctx.change(
            spec,
            "changed",
            old,
            new,
            summary,
            "notable" if notable else "minor",
            shift_days=shift_days,
            old_type=old_type,
            new_type=new_type,
            became_actual=became_actual,
            precision_changed=precision_changed,
        )
    ]


def _movement(path: str, old_text, new_text, ctx) -> tuple[int | None, bool | None, list[str]] | None:
    """How a date moved: (shift in days, precision changed, words), None when it did not.

    Where a source shows month dates as days (`path.precision` unknown), its day may stand for
    the whole month: a date in the same month did not move (a known day within it is a
    refinement, said so), and a date in another month moved by whole months."""
    if old_text == new_text:
        return None
    old_parsed, new_parsed = registry_date(old_text), registry_date(new_text)
    if not old_parsed or not new_parsed:
        return None, None, ["changed"]
    old_loose = covers(ctx.old_unknown, f"{path}.precision")
    new_loose = covers(ctx.new_unknown, f"{path}.precision")
    (old_day, old_precision), (new_day, new_precision) = old_parsed, new_parsed
    if old_loose or new_loose:
        months = at_precision(new_day, "month") - at_precision(old_day, "month")
        if same_month(old_text, new_text):
            if new_loose or new_precision != "day":
                return None  # the page shows this month as that day, or the month is all we know
            return 0, None, ["within the same month (the earlier source showed month dates as days)"]
        return months.days, None, [_moved(months.days, "a source shows month dates as days: measured by month")]
    common = coarser(old_precision, new_precision)
    shift = (at_precision(new_day, common) - at_precision(old_day, common)).days
    parts = [_moved(shift)] if shift else []
    if old_precision != new_precision:
        same_span = "" if shift else " (same month)" if "month" in (old_precision, new_precision) else " (same year)"
        parts.append(f"precision {old_precision} → {new_precision}{same_span}")
    return shift, old_precision != new_precision, parts


def _moved(days: int, note: str = "") -> str:
    words_ = f"moved {abs(days)} days {'later' if days > 0 else 'earlier'}"
    return f"{words_} ({note})" if note else words_


def _show_dated(value) -> str:
    if not isinstance(value, dict):
        return _show(value)
    kind = value.get("type")
    return f"{value.get('date')}" + (f" ({kind.lower()})" if kind else "")


# -- lists of items matched by identity ----------------------------------------------------


def _known_part(item, other, path: str, ctx, sep: str = "[].") -> dict:
    """The keys of `item` whose value is known on both sides (and in `other`, when it is a dict)."""
    if not isinstance(item, dict):
        return {"value": item}
    return {
        key: value
        for key, value in item.items()
        if not ctx.is_unknown(f"{path}{sep}{key}") and (not isinstance(other, dict) or key in other)
    }


def _label(spec, item) -> str:
    if not isinstance(item, dict):
        return _show(item)
    found = ", ".join(str(item.get(k)) for k in spec.key or () if item.get(k))
    return found or _show(item.get("citation")) if spec.path == "references" else found or "(unnamed)"


def _differences(old: dict, new: dict) -> list[str]:
    """What differs between two objects, key by key, in words (never empty when they differ)."""
    parts = []
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key), new.get(key)
        if same(before, after):
            continue
        if isinstance(before, list) or isinstance(after, list):
            gained = Counter(map(str, after or [])) - Counter(map(str, before or []))
            lost = Counter(map(str, before or [])) - Counter(map(str, after or []))
            signs = [f"+{item!r}" for item in gained.elements()] + [f"−{item!r}" for item in lost.elements()]
            parts.append(f"{key} " + ", ".join(signs) if signs else f"{key} changed")
        elif max(len(str(before or "")), len(str(after or ""))) > LONG_TEXT:
            parts.append(f"{key} changed")
        else:
            parts.append(f"{key} {_show(before)} → {_show(after)}")
    return parts


def compare_keyed(spec, old, new, ctx):
    """Lists matched by identity, as multisets: reordering is no change, two items of one
    identity are two items, and every item added, removed, renamed or changed is one change."""
    old, new = list(old or []), list(new or [])
    if ctx.is_unknown(f"{spec.path}.rest"):  # a source shows only the first item: compare those
        old, new = old[:1], new[:1]
        if not old or not new:
            return []
    by_position = any(ctx.is_unknown(f"{spec.path}[].{k}") for k in spec.key)
    partners = dict(enumerate(old[: len(new)])) if by_position else pair_items(old, new, spec.key)
    changes = []
    for index, item in enumerate(new):
        partner = partners.get(index)
        if partner is not None:
            changes.extend(_changed_item(spec, partner, item, ctx))
    paired = {id(item) for item in partners.values()}
    removed = [item for item in old if id(item) not in paired]
    added = [item for index, item in enumerate(new) if index not in partners]
    changes.extend(_renamed_added_removed(spec, removed, added, ctx))
    return changes


def _changed_item(spec, old_item, new_item, ctx) -> list[dict]:
    old_known = _known_part(old_item, new_item, spec.path, ctx)
    new_known = _known_part(new_item, old_item, spec.path, ctx)
    parts = _differences(old_known, new_known)
    if not parts:
        return []
    label = _label(spec, new_item) if _label(spec, new_item) != "(unnamed)" else _label(spec, old_item)
    summary = f"{spec.noun} {label!r}: {'; '.join(parts)}"
    return [ctx.change(spec, "changed", old_item, new_item, summary, item=label)]


def _renamed_added_removed(spec, removed: list, added: list, ctx) -> list[dict]:
    """A removed and an added item alike in everything but their identity are one rename."""
    changes = []
    for old_item in list(removed):
        rest = {k: v for k, v in _known_part(old_item, None, spec.path, ctx).items() if k not in spec.key}
        twin = next(
            (
                item
                for item in added
                if canon({k: v for k, v in _known_part(item, None, spec.path, ctx).items() if k not in spec.key})
                == canon(rest)
                and alike(item, old_item) >= len(rest)
            ),
            None,
        )
        if twin is not None:
            removed.remove(old_item)
            added.remove(twin)
            summary = f"{spec.noun} renamed: {_label(spec, old_item)!r} → {_label(spec, twin)!r}"
            changes.append(ctx.change(spec, "renamed", old_item, twin, summary, item=_label(spec, twin)))
    for item in removed:
        summary = f"{spec.noun} removed: {_label(spec, item)!r}"
        changes.append(ctx.change(spec, "removed", item, None, summary, item=_label(spec, item)))
    for item in added:
        summary = f"{spec.noun} added: {_label(spec, item)!r}"
        changes.append(ctx.change(spec, "added", None, item, summary, item=_label(spec, item)))
    return changes


# ---------------------------------------------------------------------------------------
# The table: every compared field, in report order.

SPECS = [
    Spec("in_registry", "status", "In the registry", compare_presence, "critical"),
    Spec("status", "status", "Status", compare_status, "notable"),
    Spec("why_stopped", "status", "Why stopped", compare_why_stopped),
    Spec("last_known_status", "status", "Last known status", compare_scalar),
    Spec("start_date", "dates", "Start date", compare_date),
    Spec("primary_completion_date", "dates", "Primary completion date", compare_date),
    Spec("completion_date", "dates", "Completion date", compare_date),
    Spec("first_posted", "dates", "First posted", compare_scalar),
    Spec("first_submitted", "dates", "First submitted", compare_scalar),
    Spec("first_submitted_qc", "dates", "First submission quality-controlled", compare_scalar),
    Spec("enrollment", "enrollment", "Enrollment", compare_enrollment),
    Spec("study_type", "design", "Study type", compare_scalar),
    Spec("phases", "design", "Phases", compare_set),
    Spec("fda_regulated_drug", "design", "FDA-regulated drug", compare_scalar),
    Spec("fda_regulated_device", "design", "FDA-regulated device", compare_scalar),
    Spec("design.allocation", "design", "Allocation", compare_scalar),
    Spec("design.intervention_model", "design", "Intervention model", compare_scalar),
    Spec("design.primary_purpose", "design", "Primary purpose", compare_scalar),
    Spec("design.masking", "design", "Masking", compare_scalar),
    Spec("design.who_masked", "design", "Masked roles", compare_set),
    Spec("design.observational_model", "design", "Observational model", compare_scalar),
    Spec("design.time_perspective", "design", "Time perspective", compare_scalar),
    Spec("arms", "arms", "Arms", compare_keyed, "notable", noun="Arm"),
    Spec("interventions", "interventions", "Interventions", compare_keyed, "notable", noun="Intervention"),
    Spec("eligibility.inclusion", "eligibility", "Inclusion criteria", compare_lines, "notable"),
    Spec("eligibility.exclusion", "eligibility", "Exclusion criteria", compare_lines, "notable"),
    Spec("eligibility.other", "eligibility", "Eligibility criteria", compare_lines, "notable"),
    Spec("eligibility.minimum_age", "eligibility", "Minimum age", compare_scalar, "notable"),
    Spec("eligibility.maximum_age", "eligibility", "Maximum age", compare_scalar, "notable"),
    Spec("eligibility.sex", "eligibility", "Eligible sex", compare_scalar, "notable"),
    Spec("eligibility.healthy_volunteers", "eligibility", "Accepts healthy volunteers", compare_scalar, "notable"),
    Spec("outcomes.primary", "outcomes", "Primary outcomes", compare_keyed, "critical", noun="Primary outcome"),
    Spec("outcomes.secondary", "outcomes", "Secondary outcomes", compare_keyed, noun="Secondary outcome"),
    Spec("outcomes.other", "outcomes", "Other outcomes", compare_keyed, noun="Other outcome"),
    Spec("lead_sponsor", "sponsors", "Lead sponsor", compare_object),
    Spec("collaborators", "sponsors", "Collaborators", compare_keyed, noun="Collaborator"),
    Spec("responsible_party", "sponsors", "Responsible party", compare_object),
    Spec("central_contacts", "contacts", "Central contacts", compare_keyed, noun="Central contact"),
    Spec("overall_officials", "contacts", "Officials", compare_keyed, noun="Official"),
    Spec("locations", "locations", "Locations", compare_keyed, noun="Site"),
    Spec("other_ids", "identifiers", "Other identifiers", compare_keyed, noun="Identifier"),
    Spec("acronym", "identifiers", "Acronym", compare_scalar),
    Spec("title", "description", "Title", compare_scalar),
    Spec("official_title", "description", "Official title", compare_scalar),
    Spec("summary", "description", "Brief summary", compare_lines),
    Spec("description", "description", "Detailed description", compare_lines),
    Spec("conditions", "description", "Conditions", compare_set),
    Spec("keywords", "description", "Keywords", compare_set),
    Spec("has_results", "results", "Results", compare_results),
    Spec("results_first_posted", "results", "Results first posted", compare_scalar),
    Spec("results_first_submitted", "results", "Results first submitted", compare_scalar, "notable"),
    Spec("certificate_of_delay", "results", "Certificate of delay submitted", compare_scalar, "notable"),
    Spec("submission_tracking", "results", "Results submission tracking", compare_object),
    Spec("results", "results", "Results sections", compare_sections),
    Spec("references", "other", "References", compare_keyed, noun="Reference"),
    Spec("extra_sections", "other", "Other sections", compare_sections),
]


def diff_records(old: dict, new: dict) -> list[dict]:
    """Every change from `old` (the trial as known, or the record before) to `new`, in report order."""
    old, new = upgrade(old), upgrade(new)
    ctx = Context(
        new.get("nct_id") or old.get("nct_id") or "", set(old.get("unknown") or ()), set(new.get("unknown") or ())
    )
    changes = []
    for spec in SPECS:
        if ctx.is_unknown(spec.path):
            continue
        before, after = _get(old, spec.path), _get(new, spec.path)
        if before == after:
            continue
        changes.extend(spec.compare(spec, before, after, ctx))
    return changes


def sort_key(change: dict) -> tuple:
    """Report order within one snapshot: by category (status, dates, enrollment first), then severity."""
    return (CATEGORIES.index(change["category"]), SEVERITIES.index(change["severity"]))
