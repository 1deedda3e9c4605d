"""Meaning-aware changes between two records of the same trial.

`diff_records(old, new)` returns change dicts (the keys of CHANGE_KEYS), in report order:
status, dates and enrollment first, then the other categories.  What each field means for
a reader of registry changes lives in one table, SPECS: its category, a label, and the
comparer that knows its meaning (dates shift and become actual, enrollment changes by a
percentage, lists are matched by identity, long texts by line).

A path listed in either record's `unknown` (a field its source does not carry) is never
compared: its first appearance, or its absence from a poorer source, is no change.
"""

from __future__ import annotations

import json
from collections import Counter

from trialwatch.ingest.record import upgrade
from trialwatch.snapshots.changes.dates import at_precision, coarser, registry_date

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


class Context:
    """What a comparer needs besides the two values: the unknown paths of both records."""

    def __init__(self, nct_id: str, unknown: set[str]):
        self.nct_id = nct_id
        self.unknown = unknown

    def is_unknown(self, path: str) -> bool:
        if path in self.unknown:
            return True
        parts = path.split(".")
        return any(".".join(parts[:i]) in self.unknown for i in range(1, len(parts)))

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

    def __init__(self, path, category, label, compare, severity="minor", key=None, noun=None):
        self.path = path
        self.category = category
        self.label = label
        self.compare = compare
        self.severity = severity
        self.key = key
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
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


# ---------------------------------------------------------------------------------------
# Comparers: (spec, old, new, ctx) → list of change dicts


def compare_scalar(spec, old, new, ctx):
    if old == new:
        return []
    kind = "added" if old is None else "removed" if new is None else "changed"
    return [ctx.change(spec, kind, old, new, f"{spec.label} {_show(old)} → {_show(new)}")]


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
        return [ctx.change(spec, "added", old, new, "Results posted")]
    return [ctx.change(spec, "removed", old, new, "Results removed", "critical")]


def _dated(value):
    if not isinstance(value, dict):
        return None, None, None
    parsed = registry_date(value.get("date"))
    return value.get("date"), value.get("type"), parsed


def compare_date(spec, old, new, ctx):
    if old == new:
        return []
    label = spec.label
    if old is None or new is None:
        kind = "added" if old is None else "removed"
        shown = _show_dated(new if old is None else old)
        verb = "set" if old is None else "removed"
        return [ctx.change(spec, kind, old, new, f"{label} {verb}: {shown}")]
    old_text, old_type, old_parsed = _dated(old)
    new_text, new_type, new_parsed = _dated(new)
    if ctx.is_unknown(f"{spec.path}.type"):
        old_type = new_type = None
    type_changed = bool(old_type and new_type and old_type != new_type)
    shift_days = None
    precision_changed = False
    date_changed = old_text != new_text
    if old_parsed and new_parsed:
        (old_day, old_precision), (new_day, new_precision) = old_parsed, new_parsed
        common = coarser(old_precision, new_precision)
        if old_precision != new_precision and ctx.is_unknown(f"{spec.path}.precision"):
            # One source shows every date as a full day: the same month is the same date.
            date_changed = at_precision(old_day, common) != at_precision(new_day, common)
        else:
            precision_changed = old_precision != new_precision
        shift_days = (at_precision(new_day, common) - at_precision(old_day, common)).days
    if not date_changed and not type_changed:
        return []
    became_actual = type_changed and new_type == "ACTUAL"
    parts = []
    if shift_days:
        parts.append(f"moved {abs(shift_days)} days {'later' if shift_days > 0 else 'earlier'}")
    if precision_changed:
        old_p, new_p = old_parsed[1], new_parsed[1]
        parts.append(
            f"precision {old_p} → {new_p}"
            + ("" if shift_days else " (same month)" if "month" in (old_p, new_p) else " (same year)")
        )
    if became_actual:
        parts.append("became actual")
    elif type_changed:
        parts.append(f"{old_type.lower()} → {new_type.lower()}")
    if date_changed and not parts:
        parts.append("changed")
    severity = "notable" if shift_days is not None and abs(shift_days) >= NOTABLE_SHIFT_DAYS else "minor"
    summary = f"{label} {_show_dated(old)} → {_show_dated(new)}: {', '.join(parts)}"
    return [
        ctx.change(
            spec,
            "changed",
            old,
            new,
            summary,
            severity,
            shift_days=shift_days if date_changed else 0,
            old_type=old_type,
            new_type=new_type,
            became_actual=became_actual,
            precision_changed=precision_changed,
        )
    ]


def _show_dated(value) -> str:
    if not isinstance(value, dict):
        return _show(value)
    kind = value.get("type")
    return f"{value.get('date')}" + (f" ({kind.lower()})" if kind else "")


def compare_enrollment(spec, old, new, ctx):
    if old == new:
        return []
    if old is None or new is None:
        kind = "added" if old is None else "removed"
        return [
            ctx.change(
                spec,
                kind,
                old,
                new,
                f"Enrollment {'set' if old is None else 'removed'}: {_show_enrollment(new or old)}",
                "notable",
            )
        ]
    old_count, new_count = old.get("count"), new.get("count")
    old_type, new_type = old.get("type"), new.get("type")
    if ctx.is_unknown("enrollment.type"):
        old_type = new_type = None
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
        parts.append(
            f"{_show(old_count)} → {_show(new_count)}" + (f" ({percent:+.1f}%)" if percent is not None else "")
        )
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


def _words(items) -> list[str]:
    return " ".join(str(i) for i in items).casefold().split()


def compare_set(spec, old, new, ctx):
    old, new = old or [], new or []
    old_set, new_set = set(map(str, old)), set(map(str, new))
    if old_set == new_set:
        return []
    if spec.path in ("conditions", "keywords") and _words(old) == _words(new):
        # A page joins several values on one line; the words are the same.
        return []
    added = sorted(new_set - old_set)
    removed = sorted(old_set - new_set)
    summary = f"{spec.label} {_show(list(old))} → {_show(list(new))}"
    if spec.path in ("conditions", "keywords"):
        bits = [
            f"added {', '.join(repr(a) for a in added)}" if added else "",
            f"removed {', '.join(repr(r) for r in removed)}" if removed else "",
        ]
        summary = f"{spec.label}: " + "; ".join(b for b in bits if b)
    return [ctx.change(spec, "changed", old, new, summary, lines_added=added, lines_removed=removed)]


def _lines(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [" ".join(str(v).split()) for v in value if str(v).strip()]
    return [" ".join(line.split()) for line in str(value).splitlines() if line.strip()]


def compare_lines(spec, old, new, ctx):
    """Long texts and criteria lists: what was added and removed, line by line."""
    old_lines, new_lines = _lines(old), _lines(new)
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
    return [
        ctx.change(
            spec, "changed", old, new, f"{spec.label}: " + "; ".join(bits), lines_added=added, lines_removed=removed
        )
    ]


def _known_part(item, path: str, ctx) -> dict:
    if not isinstance(item, dict):
        return {"value": item}
    return {k: v for k, v in item.items() if not ctx.is_unknown(f"{path}[].{k}")}


def _identity(spec, item) -> tuple:
    if not isinstance(item, dict):
        return (json.dumps(item, sort_keys=True),)
    key = tuple(" ".join(str(item.get(k) or "").casefold().split()) for k in spec.key)
    if spec.path == "references" and not key[0]:
        return ("citation", " ".join(str(item.get("citation") or "").casefold().split()))
    return key


def _item_label(spec, item) -> str:
    if not isinstance(item, dict):
        return _show(item)
    return ", ".join(str(item.get(k)) for k in spec.key if item.get(k)) or _show(item.get("citation"))


def _describe(spec, old_item: dict, new_item: dict) -> str:
    """Which parts of a matched item changed (deepdiff finds them, nested lists as sets)."""
    from deepdiff import DeepDiff

    found = DeepDiff(old_item, new_item, ignore_order=True, verbose_level=0)
    parts = []
    for key in found.affected_root_keys:
        before, after = old_item.get(key), new_item.get(key)
        if (
            isinstance(before, (str, type(None)))
            and isinstance(after, (str, type(None)))
            and (len(str(before or "")) > 60 or len(str(after or "")) > 60)
        ):
            parts.append(f"{key} changed")
        else:
            parts.append(f"{key} {_show(before)} → {_show(after)}")
    return "; ".join(parts)


def compare_keyed(spec, old, new, ctx):
    """Lists matched by identity, not position: reordering is no change."""
    old, new = old or [], new or []
    old_by_key = {_identity(spec, item): item for item in old}
    new_by_key = {_identity(spec, item): item for item in new}
    changes = []
    removed, added = [], []
    for key, old_item in old_by_key.items():
        new_item = new_by_key.get(key)
        if new_item is None:
            removed.append(old_item)
            continue
        old_known, new_known = _known_part(old_item, spec.path, ctx), _known_part(new_item, spec.path, ctx)
        if old_known != new_known and not _same_ignoring_order(old_known, new_known):
            changes.append(
                ctx.change(
                    spec,
                    "changed",
                    old_item,
                    new_item,
                    f"{spec.noun} {_item_label(spec, new_item)!r}: {_describe(spec, old_known, new_known)}",
                    item=_item_label(spec, new_item),
                )
            )
    added = [item for key, item in new_by_key.items() if key not in old_by_key]
    renames, removed, added = _pair_renames(spec, removed, added, ctx)
    for old_item, new_item in renames:
        changes.append(
            ctx.change(
                spec,
                "renamed",
                old_item,
                new_item,
                f"{spec.noun} renamed: {_item_label(spec, old_item)!r} → {_item_label(spec, new_item)!r}",
                item=_item_label(spec, new_item),
            )
        )
    for item in removed:
        changes.append(
            ctx.change(
                spec,
                "removed",
                item,
                None,
                f"{spec.noun} removed: {_item_label(spec, item)!r}",
                item=_item_label(spec, item),
            )
        )
    for item in added:
        changes.append(
            ctx.change(
                spec,
                "added",
                None,
                item,
                f"{spec.noun} added: {_item_label(spec, item)!r}",
                item=_item_label(spec, item),
            )
        )
    return changes


def _same_ignoring_order(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, list) and isinstance(y, list):
            if sorted(map(str, x)) != sorted(map(str, y)):
                return False
        elif x != y:
            return False
    return True


def _pair_renames(spec, removed, added, ctx):
    """A removed and an added item alike in everything but their identity are one rename."""
    if not removed or not added:
        return [], removed, added

    def rest(item):
        known = _known_part(item, spec.path, ctx)
        return json.dumps({k: v for k, v in known.items() if k not in spec.key}, sort_keys=True, default=str)

    waiting = {}
    for item in added:
        waiting.setdefault(rest(item), []).append(item)
    renames, still_removed = [], []
    for item in removed:
        candidates = waiting.get(rest(item))
        if candidates:
            renames.append((item, candidates.pop(0)))
        else:
            still_removed.append(item)
    paired = {id(new) for _, new in renames}
    return renames, still_removed, [item for item in added if id(item) not in paired]


def compare_object(spec, old, new, ctx):
    """A small object (lead sponsor, responsible party): one change naming what differs."""
    if old == new:
        return []
    if not isinstance(old, dict) or not isinstance(new, dict):
        kind = "added" if old is None else "removed" if new is None else "changed"
        return [ctx.change(spec, kind, old, new, f"{spec.label} {_show(old)} → {_show(new)}")]
    old_known = {k: v for k, v in old.items() if not ctx.is_unknown(f"{spec.path}.{k}")}
    new_known = {k: v for k, v in new.items() if not ctx.is_unknown(f"{spec.path}.{k}")}
    if old_known == new_known:
        return []
    return [ctx.change(spec, "changed", old, new, f"{spec.label}: {_describe(spec, old_known, new_known)}")]


def compare_sections(spec, old, new, ctx):
    """Page sections the parser did not understand: compared as texts, one per heading."""
    old, new = old or {}, new or {}
    changes = []
    for heading in sorted(set(old) | set(new)):
        sub = Spec(f"{spec.path}.{heading}", spec.category, f"Section {heading!r}", compare_lines)
        changes.extend(compare_lines(sub, old.get(heading), new.get(heading), ctx))
    return changes


# ---------------------------------------------------------------------------------------
# The table: every compared field, in report order.

SPECS = [
    Spec("status", "status", "Status", compare_status, "notable"),
    Spec("in_registry", "status", "In the registry", compare_presence, "critical"),
    Spec("why_stopped", "status", "Why stopped", compare_scalar),
    Spec("last_known_status", "status", "Last known status", compare_scalar),
    Spec("start_date", "dates", "Start date", compare_date),
    Spec("primary_completion_date", "dates", "Primary completion date", compare_date),
    Spec("completion_date", "dates", "Completion date", compare_date),
    Spec("first_posted", "dates", "First posted", compare_scalar),
    Spec("first_submitted", "dates", "First submitted", compare_scalar),
    Spec("first_submitted_qc", "dates", "First submission quality-controlled", compare_scalar),
    Spec("enrollment", "enrollment", "Enrollment", compare_enrollment),
    Spec("study_type", "design", "Study type", compare_scalar),
    Spec("fda_regulated_drug", "design", "FDA-regulated drug", compare_scalar),
    Spec("fda_regulated_device", "design", "FDA-regulated device", compare_scalar),
    Spec("phases", "design", "Phases", compare_set),
    Spec("design.allocation", "design", "Allocation", compare_scalar),
    Spec("design.intervention_model", "design", "Intervention model", compare_scalar),
    Spec("design.primary_purpose", "design", "Primary purpose", compare_scalar),
    Spec("design.masking", "design", "Masking", compare_scalar),
    Spec("design.who_masked", "design", "Masked roles", compare_set),
    Spec("design.observational_model", "design", "Observational model", compare_scalar),
    Spec("design.time_perspective", "design", "Time perspective", compare_scalar),
    Spec("arms", "arms", "Arms", compare_keyed, "notable", key=("label",), noun="Arm"),
    Spec(
        "interventions", "interventions", "Interventions", compare_keyed, "notable", key=("name",), noun="Intervention"
    ),
    Spec("eligibility.inclusion", "eligibility", "Inclusion criteria", compare_lines, "notable"),
    Spec("eligibility.exclusion", "eligibility", "Exclusion criteria", compare_lines, "notable"),
    Spec("eligibility.other", "eligibility", "Eligibility criteria", compare_lines, "notable"),
    Spec("eligibility.minimum_age", "eligibility", "Minimum age", compare_scalar, "notable"),
    Spec("eligibility.maximum_age", "eligibility", "Maximum age", compare_scalar, "notable"),
    Spec("eligibility.sex", "eligibility", "Eligible sex", compare_scalar, "notable"),
    Spec("eligibility.healthy_volunteers", "eligibility", "Accepts healthy volunteers", compare_scalar, "notable"),
    Spec(
        "outcomes.primary",
        "outcomes",
        "Primary outcomes",
        compare_keyed,
        "critical",
        key=("measure",),
        noun="Primary outcome",
    ),
    Spec(
        "outcomes.secondary",
        "outcomes",
        "Secondary outcomes",
        compare_keyed,
        key=("measure",),
        noun="Secondary outcome",
    ),
    Spec("outcomes.other", "outcomes", "Other outcomes", compare_keyed, key=("measure",), noun="Other outcome"),
    Spec("lead_sponsor", "sponsors", "Lead sponsor", compare_object),
    Spec("collaborators", "sponsors", "Collaborators", compare_keyed, key=("name",), noun="Collaborator"),
    Spec("responsible_party", "sponsors", "Responsible party", compare_object),
    Spec("central_contacts", "contacts", "Central contacts", compare_keyed, key=("name",), noun="Central contact"),
    Spec("overall_officials", "contacts", "Officials", compare_keyed, key=("name",), noun="Official"),
    Spec("locations", "locations", "Locations", compare_keyed, key=("facility", "city", "country"), noun="Site"),
    Spec("other_ids", "identifiers", "Other identifiers", compare_keyed, key=("id",), noun="Identifier"),
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
    Spec("references", "other", "References", compare_keyed, key=("pmid",), noun="Reference"),
    Spec("extra_sections", "other", "Other sections", compare_sections),
]
NOT_COMPARED = {"nct_id", "last_updated", "last_update_submitted", "status_verified", "unknown"}


def diff_records(old: dict, new: dict) -> list[dict]:
    """Every change from `old` to `new` (two records of one trial), in report order."""
    old, new = upgrade(old), upgrade(new)
    ctx = Context(
        new.get("nct_id") or old.get("nct_id") or "", set(old.get("unknown") or ()) | set(new.get("unknown") or ())
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
